// Package jwks keeps a JSON Web Key Set, fetched from an identity provider's
// URL or read from a local file, in memory: refreshed in the background, and
// on demand when a token names a key the cache does not know yet (the usual
// sign that the provider rotated its keys).
//
// It imports only the standard library on purpose, keys decoded by hand
// (see Key): the session-token verifier that gateways and edge services
// embed uses it too, and must not drag a JOSE library, logging, HTTP
// frameworks or Redis into them. Failures are reported through
// Options.OnError so the caller logs them its own way.
package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Sentinel errors, for errors.Is.
var (
	// ErrUnknownKey means the set, freshly fetched or within the refresh
	// cooldown, has no key with the requested kid: the token names a key
	// the provider does not publish.
	ErrUnknownKey = errors.New("jwks: unknown key id")
	// ErrUnavailable means no key set was ever loaded successfully, so
	// nothing can be said about any kid. Callers should treat it as a
	// dependency failure, not as a bad token.
	ErrUnavailable = errors.New("jwks: key set unavailable")
	// ErrInvalidSet means a fetched document was not a usable key set:
	// not JSON, no usable signing key, or private key material published
	// at a URL. The last good set stays in use.
	ErrInvalidSet = errors.New("jwks: invalid key set")
	// ErrInvalidSource means the source given to New is not an https URL,
	// an allowed http URL, or a file path.
	ErrInvalidSource = errors.New("jwks: invalid source")
	// ErrFetch means the source could not be read: network error, non-200
	// status, oversized body, missing file.
	ErrFetch = errors.New("jwks: fetch failed")
	// ErrAlreadyStarted is returned by a second call to Start.
	ErrAlreadyStarted = errors.New("jwks: already started")
)

// Defaults of Options.
const (
	// DefaultRefreshInterval is how often the set is re-fetched.
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultMinRefreshInterval is the cooldown of miss-triggered fetches.
	DefaultMinRefreshInterval = 30 * time.Second
	// DefaultTimeout bounds one fetch.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBodyBytes bounds a fetched document: 1 MiB is hundreds
	// of keys, far more than any provider publishes.
	DefaultMaxBodyBytes = 1 << 20
)

// Options tunes a Cache. The zero value gives the defaults.
type Options struct {
	// RefreshInterval is how often Start's loop re-fetches the set.
	// Default DefaultRefreshInterval.
	RefreshInterval time.Duration
	// MinRefreshInterval is the cooldown between fetches triggered by
	// unknown kids, so that tokens with made-up kids cannot make us hammer
	// the provider. It is also how soon the loop retries after a failed
	// fetch. Default DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// HTTPClient fetches URL sources. Default: a client of its own (not
	// http.DefaultClient, whose settings any package may change).
	HTTPClient *http.Client
	// Timeout bounds one fetch. Default DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds the size of a fetched set. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// AllowInsecureHTTP permits an http:// source (and redirects to one).
	// Only for tests and loopback providers: over plain HTTP anyone on the
	// path can substitute their own keys.
	AllowInsecureHTTP bool
	// OnError, when set, receives every failed fetch, so the caller can
	// log it. It is called from the goroutine doing the fetch, one call at
	// a time.
	OnError func(error)
	// Now returns the current time; tests replace it to drive the
	// cooldown. Default time.Now.
	Now func() time.Time
}

// Cache holds the last good key set of one source. Its methods are safe for
// concurrent use.
type Cache struct {
	src  source
	opts Options

	mu      sync.RWMutex
	keys    map[string]*Key // public keys by kid; nil until a fetch succeeds
	lastErr error           // error of the latest fetch; nil after a success

	// fetchMu guards the single-flight state: concurrent misses wait for
	// the one fetch in flight instead of starting their own.
	fetchMu   sync.Mutex
	inflight  *fetchCall
	lastFetch time.Time // start of the latest fetch, for the cooldown

	started atomic.Bool
}

type fetchCall struct {
	done chan struct{}
	err  error // written before done is closed
}

// New returns a cache of the key set at source: an https:// URL, an http://
// URL when opts.AllowInsecureHTTP is set, or a file (a file:// URL or a
// plain path). Nothing is fetched until Start or the first Key.
func New(source string, opts Options) (*Cache, error) {
	src, err := parseSource(source, opts.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if opts.RefreshInterval < 0 || opts.MinRefreshInterval < 0 || opts.Timeout < 0 || opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("%w: negative interval, timeout or size", ErrInvalidSource)
	}
	if opts.RefreshInterval == 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.MinRefreshInterval == 0 {
		opts.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Cache{src: src, opts: opts}, nil
}

// Start fetches the set once, synchronously, then refreshes it every
// RefreshInterval (every MinRefreshInterval after a failure) until ctx is
// done. It returns the first fetch's error but starts the loop regardless,
// so a server can come up while its identity provider is briefly down and
// begin accepting callers as soon as the provider answers.
func (c *Cache) Start(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	err := c.refresh(ctx, true)
	go c.loop(ctx)
	return err
}

func (c *Cache) loop(ctx context.Context) {
	for {
		wait := c.opts.RefreshInterval
		c.mu.RLock()
		if c.lastErr != nil {
			wait = min(wait, c.opts.MinRefreshInterval)
		}
		c.mu.RUnlock()

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_ = c.refresh(ctx, true) // reported through OnError; the last good set stays
	}
}

// Key returns the public key with the given kid. On a miss it refreshes the
// set, at most once per MinRefreshInterval, and looks again. It returns an
// error wrapping ErrUnknownKey when the kid is not in the set, and one
// wrapping ErrUnavailable when no set was ever loaded. The returned key is
// shared: callers must not modify it.
func (c *Cache) Key(ctx context.Context, kid string) (*Key, error) {
	if k, ok := c.lookup(kid); ok {
		return k, nil
	}
	if kid == "" {
		return nil, ErrUnknownKey
	}
	err := c.refresh(ctx, false)
	if k, ok := c.lookup(kid); ok {
		return k, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		// The caller gave up while the fetch was in flight: we cannot
		// say the kid is unknown.
		return nil, ctxErr
	}
	c.mu.RLock()
	ready, lastErr := c.keys != nil, c.lastErr
	c.mu.RUnlock()
	if !ready {
		if lastErr != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, lastErr)
		}
		return nil, ErrUnavailable
	}
	return nil, ErrUnknownKey
}

// Ready reports whether a key set has been loaded successfully. It stays
// true after later fetches fail, since the last good set is still served.
func (c *Cache) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys != nil
}

func (c *Cache) lookup(kid string) (*Key, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.keys[kid]
	return k, ok
}

// refresh fetches the set, or joins the fetch already in flight. Unless
// force is set it does nothing (and returns errCoolingDown) within
// MinRefreshInterval of the previous fetch.
func (c *Cache) refresh(ctx context.Context, force bool) error {
	c.fetchMu.Lock()
	call := c.inflight
	if call == nil {
		now := c.opts.Now()
		if !force && !c.lastFetch.IsZero() && now.Sub(c.lastFetch) < c.opts.MinRefreshInterval {
			c.fetchMu.Unlock()
			return errCoolingDown
		}
		call = &fetchCall{done: make(chan struct{})}
		c.inflight = call
		c.lastFetch = now
		// The fetch runs on its own goroutine, detached from the
		// caller's cancellation: other callers may be waiting on it, and
		// one of them giving up must not fail it for the rest.
		go c.fetchInto(context.WithoutCancel(ctx), call)
	}
	c.fetchMu.Unlock()

	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errCoolingDown = errors.New("jwks: refresh cooling down")

func (c *Cache) fetchInto(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	keys, err := c.fetch(ctx)
	c.mu.Lock()
	if err == nil {
		c.keys = keys
	}
	c.lastErr = err
	c.mu.Unlock()
	if err != nil && c.opts.OnError != nil {
		c.opts.OnError(err)
	}

	c.fetchMu.Lock()
	c.inflight = nil
	c.fetchMu.Unlock()
	call.err = err
	close(call.done)
}
