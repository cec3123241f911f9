package callerauth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// countingSource counts key lookups: a lookup means the token was verified
// again rather than answered from the cache.
func countingSource(f *fixture, n *atomic.Int32, fail *atomic.Bool) callerauth.KeySource {
	inner := f.source()
	return keySourceFunc(func(ctx context.Context, kid string) (*jwks.Key, error) {
		n.Add(1)
		if fail != nil && fail.Load() {
			return nil, context.DeadlineExceeded // the provider is unreachable
		}
		return inner.Key(ctx, kid)
	})
}

func TestVerifiedTokenCache(t *testing.T) {
	f := newFixture(t)
	var lookups atomic.Int32
	var fail atomic.Bool
	a, err := callerauth.New(callerauth.Config{
		Issuer: issuer, Audience: audience, Now: func() time.Time { return f.now }, CacheTTL: time.Minute,
	}, countingSource(f, &lookups, &fail))
	if err != nil {
		t.Fatal(err)
	}
	start := f.now
	claims := f.claims()
	claims["exp"] = start.Add(90 * time.Second)
	tok := sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1"}, claims)
	auth := func() (widget.Caller, error) { return a.Authenticate(context.Background(), "Bearer "+tok) }

	first, err := auth()
	if err != nil || lookups.Load() != 1 {
		t.Fatalf("first Authenticate = %v (lookups %d)", err, lookups.Load())
	}
	first.Roles[0] = "mutated" // the cache must hand out copies
	second, err := auth()
	if err != nil || lookups.Load() != 1 {
		t.Fatalf("a repeated token was verified again (lookups %d, err %v)", lookups.Load(), err)
	}
	if second.Tenant != "acme" || second.Subject != "user_alice" || second.Roles[0] != "admin" {
		t.Fatalf("cached caller = %+v", second)
	}

	// Past the cache TTL the token is verified again.
	f.now = start.Add(61 * time.Second)
	if _, err := auth(); err != nil || lookups.Load() != 2 {
		t.Fatalf("after CacheTTL: err %v, lookups %d; want a fresh verification", err, lookups.Load())
	}
	// Never past exp, even within the TTL of the entry made at 61s.
	f.now = start.Add(90*time.Second + 31*time.Second) // beyond exp and the 30s leeway
	if _, err := auth(); widget.ErrorCode(err) != widget.CodeUnauthorized {
		t.Fatalf("after exp: %v; want unauthorized", err)
	}

	// Failures are not remembered: keys unavailable, then back.
	f.now = start
	other := sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1"}, f.claims())
	fail.Store(true)
	if _, err := a.Authenticate(context.Background(), "Bearer "+other); widget.ErrorCode(err) != widget.CodeDependencyUnavailable {
		t.Fatalf("with the provider down: %v", err)
	}
	fail.Store(false)
	if _, err := a.Authenticate(context.Background(), "Bearer "+other); err != nil {
		t.Fatalf("once the provider is back, the token must verify: %v", err)
	}

	// A token differing in one byte of its signature is not a cache hit.
	tampered := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[tok[len(tok)-2:] != "AA"]
	f.now = start.Add(10 * time.Second)
	if _, err := a.Authenticate(context.Background(), "Bearer "+tampered); widget.ErrorCode(err) != widget.CodeUnauthorized {
		t.Fatalf("tampered token: %v; want unauthorized", err)
	}
}

func TestVerifiedTokenCacheDisabled(t *testing.T) {
	f := newFixture(t)
	var lookups atomic.Int32
	a, err := callerauth.New(callerauth.Config{
		Issuer: issuer, Audience: audience, Now: func() time.Time { return f.now }, CacheTTL: -1,
	}, countingSource(f, &lookups, nil))
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1"}, f.claims())
	for range 3 {
		if _, err := a.Authenticate(context.Background(), "Bearer "+tok); err != nil {
			t.Fatal(err)
		}
	}
	if lookups.Load() != 3 {
		t.Fatalf("with the cache disabled, lookups = %d, want 3", lookups.Load())
	}
}
