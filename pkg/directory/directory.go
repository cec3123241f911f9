// Package directory holds the user directories the minting service can ask
// whether a user exists in a tenant: File, a JSON document held in memory
// (the embedded demo data, or an operator's file), and HTTP, a remote
// directory reached over HTTP. Open chooses between them from the one
// configuration string, WIDGET_DIRECTORY.
//
// The HTTP directory protocol is a single request:
//
//	GET {base}/tenants/{tenantId}/users/{userId}
//	Accept: application/json
//	Authorization: Bearer <token>     (when a token is configured)
//
// Each id is one path segment, escaped with url.PathEscape. 200 means the
// user exists in that tenant and 404 that it does not; the body is not read.
// Any other status, including a redirect, means the directory cannot tell.
// directorytest.Handler serves this protocol from any widget.UserDirectory.
package directory

import (
	"errors"
	"strings"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Open returns the directory spec names: an http:// or https:// URL is the
// base of an HTTP directory configured by opts, anything else the path of
// a file for LoadFile (opts then do not apply). An empty spec is an error:
// falling back to the demo data is the caller's decision, made where it can
// be refused in live.
func Open(spec string, opts HTTPOptions) (widget.UserDirectory, error) {
	if spec == "" {
		return nil, errors.New("directory: no directory given")
	}
	if lower := strings.ToLower(spec); strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		// Not "return NewHTTP(...)": a nil *HTTP in an interface is not nil.
		h, err := NewHTTP(spec, opts)
		if err != nil {
			return nil, err
		}
		return h, nil
	}
	f, err := LoadFile(spec)
	if err != nil {
		return nil, err
	}
	return f, nil
}
