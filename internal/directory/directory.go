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
	"github.com/causeflow/widget-sessions/internal/lookup"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Open returns the directory spec names: an http:// or https:// URL is the
// base of an HTTP directory configured by opts, anything else the path of a
// file for LoadFile (opts then do not apply). An empty spec is an error: see
// lookup.Open.
func Open(spec string, opts HTTPOptions) (widget.UserDirectory, error) {
	return lookup.Open("directory", spec,
		func(base string) (widget.UserDirectory, error) { return NewHTTP(base, opts) },
		func(path string) (widget.UserDirectory, error) { return LoadFile(path) })
}
