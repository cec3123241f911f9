package directory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/causeflow/widget-sessions/internal/lookup"
	"github.com/causeflow/widget-sessions/internal/ttlcache"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Defaults of HTTPOptions.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultPositiveTTL = 60 * time.Second
	DefaultNegativeTTL = 10 * time.Second
	DefaultMaxEntries  = 10000
)

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
	client  *lookup.Client
	posTTL  time.Duration
	negTTL  time.Duration
	answers *ttlcache.Cache[key, bool]
}

type key struct{ tenant, user string }

// NewHTTP returns an HTTP directory at base, an http:// or https:// URL
// with a host and neither query nor fragment.
func NewHTTP(base string, opts HTTPOptions) (*HTTP, error) {
	if opts.PositiveTTL < 0 || opts.NegativeTTL < 0 || opts.MaxEntries < 0 {
		return nil, errors.New("directory: TTLs and MaxEntries must not be negative")
	}
	client, err := lookup.New("directory", base, lookup.Options{Client: opts.Client, Token: opts.Token, Timeout: opts.Timeout}, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return &HTTP{
		client:  client,
		posTTL:  cmp.Or(opts.PositiveTTL, DefaultPositiveTTL),
		negTTL:  cmp.Or(opts.NegativeTTL, DefaultNegativeTTL),
		answers: ttlcache.New[key, bool](cmp.Or(opts.MaxEntries, DefaultMaxEntries), opts.Now),
	}, nil
}

// UserExists reports whether userID exists in tenant. A caller whose ctx
// ends while waiting gets DependencyUnavailable at once; the request it
// started carries on for the other callers waiting on it, bounded by the
// timeout, and its answer is remembered.
func (h *HTTP) UserExists(ctx context.Context, tenant, userID string) (bool, error) {
	if !lookup.Addressable(tenant) || !lookup.Addressable(userID) {
		return false, nil
	}
	exists, err := h.answers.Do(ctx, key{tenant: tenant, user: userID}, func(ctx context.Context) (bool, time.Duration, error) {
		exists, err := h.fetch(ctx, tenant, userID)
		if exists {
			return true, h.posTTL, err
		}
		return false, h.negTTL, err
	})
	var de *widget.Error
	if err != nil && !errors.As(err, &de) {
		return false, unavailable(err) // the caller's ctx ended while it waited
	}
	return exists, err
}

func (h *HTTP) fetch(ctx context.Context, tenant, userID string) (bool, error) {
	status, _, err := h.client.Get(ctx, 0, "tenants", tenant, "users", userID)
	switch {
	case err != nil:
		return false, unavailable(err)
	case status == http.StatusOK:
		return true, nil
	case status == http.StatusNotFound:
		return false, nil
	default:
		return false, unavailable(fmt.Errorf("directory: unexpected status %d", status))
	}
}

func unavailable(cause error) error {
	return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "user directory unavailable", Err: cause}
}
