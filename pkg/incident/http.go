package incident

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

// DefaultTimeout bounds a request of the HTTP source when HTTPOptions names
// no timeout.
const DefaultTimeout = 2 * time.Second

// MaxBody bounds the body of an incident the HTTP source reads. An incident
// is a few KiB; a larger answer is a misbehaving source, not a context to
// hand to the assistant.
const MaxBody = 256 << 10

// maxDrain bounds how much of a body not read is drained before closing it,
// so that a well-behaved source's connection can be reused.
const maxDrain = 64 << 10

// HTTPOptions configures an HTTP source. Zero values take the defaults.
type HTTPOptions struct {
	// Client sends the requests; nil means a client on
	// http.DefaultTransport. It is copied, and the copy does not follow
	// redirects: the protocol has none, and following one could serve
	// another incident's context as this one's.
	Client *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>". It is a
	// secret: it never appears in an error or a log.
	Token string
	// Timeout bounds each request, body included (default DefaultTimeout).
	Timeout time.Duration
}

// HTTP is an incident source reached over HTTP, the production adapter. It
// asks GET {base}/tenants/{tenantId}/incidents/{incidentId}: 200 carries the
// incident, 404 means ErrNotFound, and anything else (another status, a
// body that is not a valid incident of that tenant and id, a timeout, a
// transport error) an error wrapping ErrUnavailable. It remembers nothing:
// Service caches. It is safe for concurrent use.
type HTTP struct {
	base    string // scheme://host[/path], without a trailing slash
	token   string
	client  *http.Client
	timeout time.Duration
}

// NewHTTP returns an HTTP source at base, an http:// or https:// URL with a
// host and neither query nor fragment.
func NewHTTP(base string, opts HTTPOptions) (*HTTP, error) {
	u, err := url.Parse(base)
	switch {
	// Errors name the URL redacted: it may carry a password.
	case err != nil:
		return nil, errors.New("incident: base URL is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("incident: base URL %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("incident: base URL %q: no host", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("incident: base URL %q: must have no query or fragment", u.Redacted())
	case opts.Timeout < 0:
		return nil, errors.New("incident: timeout must not be negative")
	case strings.ContainsFunc(opts.Token, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// net/http would refuse the header on every request; say so now,
		// without echoing the secret.
		return nil, errors.New("incident: token contains control characters")
	}
	client := &http.Client{}
	if opts.Client != nil {
		c := *opts.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &HTTP{
		base:    strings.TrimSuffix(u.String(), "/"),
		token:   opts.Token,
		client:  client,
		timeout: cmp.Or(opts.Timeout, DefaultTimeout),
	}, nil
}

// Incident asks the source for the incident id of tenant. Ids that cannot
// name an incident ("", ".", "..") get ErrNotFound without a request.
func (h *HTTP) Incident(ctx context.Context, tenant, id string) (Incident, error) {
	if !addressable(tenant) || !addressable(id) {
		return Incident{}, ErrNotFound
	}
	if err := ctx.Err(); err != nil {
		return Incident{}, unavailable(err)
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	// PathEscape escapes "/", "?", "#" and "%", so no id can add, remove or
	// end a path segment; dot segments are kept out by addressable.
	path := "/tenants/" + url.PathEscape(tenant) + "/incidents/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+path, nil)
	if err != nil {
		return Incident{}, unavailable(errors.New("cannot build the request"))
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
			err = fmt.Errorf("%s request failed: %w", ue.Op, ue.Err)
		}
		return Incident{}, unavailable(err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return Incident{}, ErrNotFound
	default:
		return Incident{}, unavailable(fmt.Errorf("unexpected status %s", resp.Status))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	switch {
	case err != nil:
		return Incident{}, unavailable(fmt.Errorf("reading the body: %w", err))
	case len(body) > MaxBody:
		return Incident{}, unavailable(fmt.Errorf("body larger than %d bytes", MaxBody))
	}
	inc, gotTenant, err := decodeIncident(body, true)
	switch {
	case err != nil:
		return Incident{}, unavailable(fmt.Errorf("invalid incident: %w", err))
	// An answer about another incident is a misrouted or confused source:
	// serving it would show one tenant's incident to another.
	case inc.ID != id || (gotTenant != "" && gotTenant != tenant):
		return Incident{}, unavailable(errors.New("the source answered for another incident or tenant"))
	}
	inc.Tenant = tenant
	return inc, nil
}

func unavailable(cause error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}
