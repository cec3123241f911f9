package directory

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

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Defaults of HTTPOptions.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultPositiveTTL = 60 * time.Second
	DefaultNegativeTTL = 10 * time.Second
	DefaultMaxEntries  = 10000
)

// maxDrain bounds how much of a response body is read before closing it:
// enough to let a well-behaved directory's connection be reused, not so
// much that a misbehaving one can make us read without end.
const maxDrain = 64 << 10

// HTTPOptions configures an HTTP directory. Zero values take the defaults.
type HTTPOptions struct {
	// Client sends the requests; nil means a client on
	// http.DefaultTransport. It is copied, and the copy does not follow
	// redirects: the protocol has none, and following one could turn a
	// misrouted request into a "200, user exists".
	Client *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>". It is a
	// secret: it never appears in an error or a log.
	Token string
	// Timeout bounds each request, body included (default DefaultTimeout).
	Timeout time.Duration
	// PositiveTTL is how long "user exists" is remembered
	// (default DefaultPositiveTTL).
	PositiveTTL time.Duration
	// NegativeTTL is how long "no such user" is remembered (default
	// DefaultNegativeTTL); shorter than PositiveTTL so that a user who was
	// just created can soon be given a session.
	NegativeTTL time.Duration
	// MaxEntries bounds the number of remembered answers
	// (default DefaultMaxEntries).
	MaxEntries int
	// Now tells the time for the cache (default time.Now); tests move it.
	Now func() time.Time
}

// HTTP is a user directory reached over HTTP, the production adapter. It
// asks GET {base}/tenants/{tenantId}/users/{userId} and reads only the
// status: 200 means the user exists, 404 that it does not, and anything else
// (another status, a timeout, a transport error) is a *widget.Error with
// code DependencyUnavailable, never "no such user".
//
// Answers are remembered for a short while, errors never; concurrent
// lookups of the same user share one request. It is safe for concurrent use.
type HTTP struct {
	base    string // scheme://host[/path], without a trailing slash
	token   string
	client  *http.Client
	timeout time.Duration
	posTTL  time.Duration
	negTTL  time.Duration
	now     func() time.Time
	memory  *memory
}

// NewHTTP returns an HTTP directory at base, an http:// or https:// URL
// with a host and neither query nor fragment.
func NewHTTP(base string, opts HTTPOptions) (*HTTP, error) {
	u, err := url.Parse(base)
	switch {
	// Errors name the URL redacted: it may carry a password.
	case err != nil:
		return nil, errors.New("directory: base URL is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("directory: base URL %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("directory: base URL %q: no host", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("directory: base URL %q: must have no query or fragment", u.Redacted())
	case opts.Timeout < 0 || opts.PositiveTTL < 0 || opts.NegativeTTL < 0 || opts.MaxEntries < 0:
		return nil, errors.New("directory: timeout, TTLs and MaxEntries must not be negative")
	case strings.ContainsFunc(opts.Token, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// net/http would refuse the header on every request; say so now,
		// without echoing the secret.
		return nil, errors.New("directory: token contains control characters")
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	h := &HTTP{
		base:    strings.TrimSuffix(u.String(), "/"),
		token:   opts.Token,
		client:  client,
		timeout: cmp.Or(opts.Timeout, DefaultTimeout),
		posTTL:  cmp.Or(opts.PositiveTTL, DefaultPositiveTTL),
		negTTL:  cmp.Or(opts.NegativeTTL, DefaultNegativeTTL),
		now:     opts.Now,
		memory:  newMemory(cmp.Or(opts.MaxEntries, DefaultMaxEntries)),
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

// UserExists reports whether userID exists in tenant. A caller whose ctx
// ends while waiting gets DependencyUnavailable at once; the request it
// started carries on for the other callers waiting on it, bounded by the
// timeout, and its answer is remembered.
func (h *HTTP) UserExists(ctx context.Context, tenant, userID string) (bool, error) {
	if !addressable(tenant) || !addressable(userID) {
		return false, nil
	}
	// A caller already gone gets no answer and starts no request.
	if err := ctx.Err(); err != nil {
		return false, unavailable(err)
	}
	k := key{tenant: tenant, user: userID}
	exists, ok, c, lead := h.memory.lookup(k, h.now())
	if ok {
		return exists, nil
	}
	if lead {
		// Detached from ctx so that one caller giving up does not fail
		// every caller that joined; values (trace ids) are kept.
		go h.resolve(context.WithoutCancel(ctx), k, c)
	}
	select {
	case <-c.done:
		return c.exists, c.err
	case <-ctx.Done():
		return false, unavailable(ctx.Err())
	}
}

func (h *HTTP) resolve(ctx context.Context, k key, c *call) {
	exists, err := h.fetch(ctx, k.tenant, k.user)
	ttl := h.negTTL
	if exists {
		ttl = h.posTTL
	}
	now := h.now()
	h.memory.finish(k, c, exists, err, now, now.Add(ttl))
}

func (h *HTTP) fetch(ctx context.Context, tenant, userID string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	// PathEscape escapes "/", "?", "#" and "%", so no id can add, remove or
	// end a path segment; dot segments are kept out by addressable.
	path := "/tenants/" + url.PathEscape(tenant) + "/users/" + url.PathEscape(userID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return false, unavailable(err)
	}
	req.Header.Set("Accept", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		// A *url.Error names the URL, which holds caller-supplied ids:
		// keep only its cause for the logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("directory: %s request failed: %w", ue.Op, ue.Err)
		}
		return false, unavailable(err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	default:
		return false, unavailable(fmt.Errorf("directory: unexpected status %s", resp.Status))
	}
}

// addressable reports whether id can be a segment of the protocol's path.
// PathEscape leaves "." and ".." alone, and a server or proxy would resolve
// them as dot segments: GET .../users/.. could reach the tenant itself and
// answer 200. No such id can name a user (ParseFile refuses them, the API
// refuses ""), so the answer is "no" without asking.
func addressable(id string) bool { return id != "" && id != "." && id != ".." }

func unavailable(cause error) error {
	return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "user directory unavailable", Err: cause}
}
