// Package lookup is the client of the internal lookup protocols the service
// asks (the user directory, the incident source): GET {base}/a/b/... with
// each segment escaped, an optional bearer token, no redirects, a timeout
// and a bounded body. It exists so that the safety rules of those requests
// are written once:
//
//   - a caller-supplied id can never add, remove or end a path segment;
//   - a redirect is never followed (it could turn a misrouted request into
//     "200, exists", or serve another resource as this one);
//   - an error never holds the URL (it carries caller-supplied ids) nor the
//     token.
package lookup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxDrain bounds how much of an unread body is drained so that the
// connection can be reused.
const maxDrain = 4 << 10

// fallbackTimeout applies when neither the options nor the caller give one:
// a lookup without a deadline could hold a request forever.
const fallbackTimeout = 5 * time.Second

// Options configure a Client.
type Options struct {
	// Client sends the requests; nil means a client on
	// http.DefaultTransport. It is copied, and the copy follows no redirect.
	Client *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>". It is a
	// secret: it never appears in an error.
	Token string
	// Timeout bounds each request, body included; zero means the default
	// given to New.
	Timeout time.Duration
}

// Client GETs resources under one base URL.
type Client struct {
	name    string // prefixes errors: "directory", "incident"
	base    string // scheme://host[/path], without a trailing slash
	token   string
	client  *http.Client
	timeout time.Duration
}

// New returns a Client for base, an http:// or https:// URL with a host and
// neither query nor fragment. name prefixes its errors.
func New(name, base string, opts Options, defaultTimeout time.Duration) (*Client, error) {
	u, err := url.Parse(base)
	switch {
	// Errors name the URL redacted: it may carry a password.
	case err != nil:
		return nil, fmt.Errorf("%s: base URL is not a valid URL", name)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s: base URL %q: scheme must be http or https", name, u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("%s: base URL %q: no host", name, u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("%s: base URL %q: must have no query or fragment", name, u.Redacted())
	case opts.Timeout < 0:
		return nil, fmt.Errorf("%s: timeout must not be negative", name)
	case strings.ContainsFunc(opts.Token, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// net/http would refuse the header on every request; say so now,
		// without echoing the secret.
		return nil, fmt.Errorf("%s: token contains control characters", name)
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		name:    name,
		base:    strings.TrimSuffix(u.String(), "/"),
		token:   opts.Token,
		client:  client,
		timeout: cmp.Or(opts.Timeout, defaultTimeout, fallbackTimeout),
	}, nil
}

// Open returns what spec names, for a setting that takes either a file or
// a lookup service (WIDGET_DIRECTORY, WIDGET_INCIDENTS): an http:// or
// https:// URL, in any case, is opened with openHTTP, and anything else is
// a path opened with openFile. An empty spec is an error that name
// prefixes: falling back to demo data is the caller's decision, made where
// it can be refused in live. On an error, Open returns T's zero value, so a
// failed opener's nil pointer never reaches the caller as a non-nil
// interface.
func Open[T any](name, spec string, openHTTP, openFile func(string) (T, error)) (T, error) {
	var zero T
	if spec == "" {
		return zero, fmt.Errorf("%s: none given", name)
	}
	open := openFile
	if lower := strings.ToLower(spec); strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		open = openHTTP
	}
	v, err := open(spec)
	if err != nil {
		return zero, err
	}
	return v, nil
}

// Addressable reports whether id can be a path segment of a lookup. Path
// escaping leaves "." and ".." alone, and a server or proxy would resolve
// them as dot segments (GET .../users/.. could reach the tenant itself), so
// such ids, and "", are answered "no such thing" without asking.
func Addressable(id string) bool { return id != "" && id != "." && id != ".." }

// ErrNotAddressable is returned by Get for a segment Addressable refuses.
var ErrNotAddressable = errors.New("lookup: not an addressable id")

// Get fetches base/segments... and returns the status and, for a 200, the
// body (at most maxBody bytes; more is an error; maxBody <= 0 asks for the
// status only). A transport failure is an error without the URL.
func (c *Client) Get(ctx context.Context, maxBody int64, segments ...string) (int, []byte, error) {
	var path strings.Builder
	for _, s := range segments {
		if !Addressable(s) {
			return 0, nil, ErrNotAddressable
		}
		// PathEscape escapes "/", "?", "#" and "%": no id can add, remove
		// or end a segment.
		path.WriteString("/" + url.PathEscape(s))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path.String(), nil)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: cannot build the request", c.name)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// A *url.Error names the URL: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("%s: request failed: %w", c.name, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK || maxBody <= 0 {
		return resp.StatusCode, nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		return 0, nil, fmt.Errorf("%s: reading the body: %w", c.name, err)
	case int64(len(body)) > maxBody:
		return 0, nil, fmt.Errorf("%s: body larger than %d bytes", c.name, maxBody)
	}
	return resp.StatusCode, body, nil
}
