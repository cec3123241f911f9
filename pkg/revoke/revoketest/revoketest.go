// Package revoketest holds the contract every revoke.Store must meet. The
// in-memory store and the Redis adapter both run it, so the embedded
// default and production cannot drift apart.
package revoketest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Leeway is the clock-skew leeway the suite builds its entries with.
const Leeway = 30 * time.Second

// Clock is a settable clock for tests. The zero value is not usable; make
// one with NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Run checks that the stores newStore returns behave as a revoke.Store must.
// newStore is called once per case with the clock the store must read; the
// store starts empty and is ready (started) when newStore returns.
//
// Each case advances the clock an hour past the store's creation before it
// revokes anything, so that a store that revokes everything issued before it
// first met its backend (the Redis adapter on an emptied Redis) still passes.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) revoke.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s revoke.Store, clk *Clock)
	}{
		{"session is revoked in its tenant only", testSession},
		{"user revocation bounded by time and tenant", testUser},
		{"tenant revocation bounded by time", testTenant},
		{"all revokes every tenant up to its time", testAll},
		{"separators in ids do not collide", testSeparators},
		{"merging keeps the later time", testMerge},
		{"expired entries are pruned", testExpiry},
		{"revoke is visible when it returns", testDurable},
		{"invalid entries are refused", testInvalid},
		{"subscribers see revocations", testSubscribe},
		{"concurrent revocations and checks", testConcurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(time.Now().UTC().Truncate(time.Second))
			s := newStore(t, clk.Now)
			clk.Advance(time.Hour)
			tc.run(t, s, clk)
		})
	}
}

// check is one token and the answer expected for it.
type check struct {
	name string
	c    token.Claims
	want bool
}

// claims returns the claims of a token minted at iat, to the millisecond.
func claims(tenant, user, sid string, iat time.Time) token.Claims {
	c := legacyClaims(tenant, user, sid, iat)
	c.IssuedAtMs = iat.UnixMilli()
	return c
}

// legacyClaims are claims without iat_ms, as tokens minted before it.
func legacyClaims(tenant, user, sid string, iat time.Time) token.Claims {
	return token.Claims{Tenant: tenant, Subject: user, SessionID: sid, ID: sid, IssuedAt: iat.Unix(), Expiry: iat.Add(widget.DefaultTTL).Unix()}
}

func newSID(t *testing.T, at time.Time) string {
	t.Helper()
	sid, err := sessionid.New(at)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func revoke1(t *testing.T, s revoke.Store, e revoke.Entry) {
	t.Helper()
	if err := s.Revoke(context.Background(), e); err != nil {
		t.Fatalf("Revoke(%v): %v", e, err)
	}
}

func sessionEntry(t *testing.T, tenant, sid string) revoke.Entry {
	t.Helper()
	e, err := revoke.SessionEntry(tenant, sid, Leeway)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// expect checks each token at once: a store's own revocations are visible
// as soon as Revoke returns, with no polling.
func expect(t *testing.T, s revoke.Store, checks []check) {
	t.Helper()
	for _, ch := range checks {
		got, err := s.IsRevoked(&ch.c)
		if err != nil || got != ch.want {
			t.Errorf("%s: IsRevoked = %v, %v; want %v, nil", ch.name, got, err, ch.want)
		}
	}
}

func testSession(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	sid, other := newSID(t, now.Add(-time.Minute)), newSID(t, now.Add(-time.Minute))
	revoke1(t, s, sessionEntry(t, "acme", sid))
	expect(t, s, []check{
		{"the revoked session", claims("acme", "alice", sid, now.Add(-time.Minute)), true},
		{"another session of the same user", claims("acme", "alice", other, now.Add(-time.Minute)), false},
		{"the same session id in another tenant", claims("demo", "alice", sid, now.Add(-time.Minute)), false},
	})
}

func testUser(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now().Truncate(time.Second)
	at := now.Add(500 * time.Millisecond)
	revoke1(t, s, revoke.UserEntry("acme", "alice", at, Leeway))
	sid := newSID(t, now)
	expect(t, s, []check{
		{"issued before", claims("acme", "alice", sid, now.Add(-time.Hour)), true},
		{"minted earlier in the revocation's second", claims("acme", "alice", sid, at.Add(-time.Millisecond)), true},
		{"minted in the revocation's millisecond", claims("acme", "alice", sid, at), true},
		// Sign out everywhere, then sign in: not born revoked.
		{"minted a millisecond after, in the same second", claims("acme", "alice", sid, at.Add(time.Millisecond)), false},
		{"without iat_ms, of the revocation's second (the safe side)", legacyClaims("acme", "alice", sid, at.Add(400*time.Millisecond)), true},
		{"issued the second after", claims("acme", "alice", sid, now.Add(time.Second)), false},
		{"another user of the tenant", claims("acme", "bob", sid, now.Add(-time.Hour)), false},
		{"the same user id in another tenant", claims("demo", "alice", sid, now.Add(-time.Hour)), false},
	})
}

func testTenant(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	revoke1(t, s, revoke.TenantEntry("acme", now, Leeway))
	sid := newSID(t, now)
	expect(t, s, []check{
		{"a user of the tenant, issued before", claims("acme", "alice", sid, now.Add(-time.Minute)), true},
		{"another user of the tenant, same millisecond", claims("acme", "bob", sid, now), true},
		{"minted a millisecond after", claims("acme", "bob", sid, now.Add(time.Millisecond)), false},
		{"issued the second after", claims("acme", "alice", sid, now.Add(time.Second)), false},
		{"another tenant", claims("demo", "alice", sid, now.Add(-time.Minute)), false},
		{"a tenant whose id starts alike", claims("acme2", "alice", sid, now.Add(-time.Minute)), false},
	})
}

func testAll(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	revoke1(t, s, revoke.AllEntry(now, Leeway))
	sid := newSID(t, now)
	expect(t, s, []check{
		{"one tenant, issued before", claims("acme", "alice", sid, now.Add(-time.Minute)), true},
		{"another tenant, same millisecond", claims("demo", "bob", sid, now), true},
		{"minted a millisecond after", claims("demo", "bob", sid, now.Add(time.Millisecond)), false},
		{"issued the second after", claims("acme", "alice", sid, now.Add(time.Second)), false},
	})
}

// testSeparators catches a store that joins tenant and subject into one key
// without escaping: tenant "a|b" user "c" must not be tenant "a" user "b|c".
func testSeparators(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	sid := newSID(t, now)
	revoke1(t, s, revoke.UserEntry("a|b", "c", now, Leeway))
	revoke1(t, s, revoke.UserEntry("x:y", "%7C", now, Leeway))
	expect(t, s, []check{
		{"the revoked user", claims("a|b", "c", sid, now), true},
		{"separator moved from tenant to user", claims("a", "b|c", sid, now), false},
		{"separator moved, other way", claims("a|b|c", "", sid, now), false},
		{"escaped form of the id", claims("x:y", "|", sid, now), false},
		{"escaped id itself", claims("x:y", "%7C", sid, now), true},
	})
}

func testMerge(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	sid := newSID(t, now)
	revoke1(t, s, revoke.UserEntry("acme", "alice", now, Leeway))
	revoke1(t, s, revoke.UserEntry("acme", "alice", now.Add(-time.Hour), Leeway)) // older: must not shrink
	expect(t, s, []check{
		{"covered by the later time after an older revocation", claims("acme", "alice", sid, now), true},
	})
	revoke1(t, s, revoke.UserEntry("acme", "alice", now.Add(time.Minute), Leeway))
	expect(t, s, []check{
		{"covered once the later revocation arrives", claims("acme", "alice", sid, now.Add(30*time.Second)), true},
		{"still not after it", claims("acme", "alice", sid, now.Add(61*time.Second)), false},
	})
	if l, ok := s.(interface{ Len() int }); ok && l.Len() != 1 {
		t.Errorf("Len = %d after three revocations of one user; want 1", l.Len())
	}
}

// testExpiry revokes a session old enough that its entry expires two
// seconds from now, and one that lives long. Once the clock passes the
// first expiry (and any pruning grace a backend keeps), the next write
// prunes it.
func testExpiry(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	oldStart := now.Add(-widget.MaxTTL - Leeway + 2*time.Second)
	old, young := newSID(t, oldStart), newSID(t, now)
	e := sessionEntry(t, "acme", old)
	if !e.Expires.Equal(now.Add(2 * time.Second)) {
		t.Fatalf("session entry expires at %v; want %v", e.Expires, now.Add(2*time.Second))
	}
	revoke1(t, s, e)
	revoke1(t, s, sessionEntry(t, "acme", young))
	expect(t, s, []check{
		{"old session before its expiry", claims("acme", "alice", old, oldStart), true},
	})
	clk.Advance(time.Hour)
	revoke1(t, s, revoke.UserEntry("acme", "bob", clk.Now(), Leeway)) // writes prune
	expect(t, s, []check{
		{"old session after its expiry", claims("acme", "alice", old, oldStart), false},
		{"young session stays revoked", claims("acme", "alice", young, now), true},
	})
	if l, ok := s.(interface{ Len() int }); ok && l.Len() != 2 {
		t.Errorf("Len = %d after pruning; want 2", l.Len())
	}
}

func testDurable(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	for i := range 20 {
		sid := newSID(t, now)
		user := fmt.Sprintf("user%d", i)
		revoke1(t, s, sessionEntry(t, "acme", sid))
		expect(t, s, []check{{"session " + sid, claims("acme", "x", sid, now), true}})
		revoke1(t, s, revoke.UserEntry("acme", user, now, Leeway))
		expect(t, s, []check{{"user " + user, claims("acme", user, newSID(t, now), now), true}})
	}
}

func testInvalid(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	sid := newSID(t, now)
	good := sessionEntry(t, "acme", sid)
	cases := []struct {
		name string
		e    revoke.Entry
	}{
		{"zero entry", revoke.Entry{}},
		{"unknown kind", revoke.Entry{Kind: 9, Tenant: "acme", Before: now, Expires: good.Expires}},
		{"session without tenant", revoke.Entry{Kind: revoke.KindSession, Subject: sid, Expires: good.Expires}},
		{"session with a bad id", revoke.Entry{Kind: revoke.KindSession, Tenant: "acme", Subject: "wsess_nope", Expires: good.Expires}},
		{"user without user id", revoke.Entry{Kind: revoke.KindUser, Tenant: "acme", Before: now, Expires: good.Expires}},
		{"user without time", revoke.Entry{Kind: revoke.KindUser, Tenant: "acme", Subject: "alice", Expires: good.Expires}},
		{"tenant without tenant", revoke.TenantEntry("", now, Leeway)},
		{"all naming a tenant", revoke.Entry{Kind: revoke.KindAll, Tenant: "acme", Before: now, Expires: good.Expires}},
		{"no expiry", revoke.Entry{Kind: revoke.KindTenant, Tenant: "acme", Before: now}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Revoke(context.Background(), tc.e)
			if !errors.Is(err, revoke.ErrInvalidEntry) || widget.ErrorCode(err) != widget.CodeValidation {
				t.Fatalf("Revoke = %v; want a validation error wrapping ErrInvalidEntry", err)
			}
		})
	}
	c := claims("acme", "alice", sid, now)
	expect(t, s, []check{{"nothing was recorded", c, false}})
}

func testSubscribe(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	got := make(chan revoke.Entry, 16)
	cancel := s.Subscribe(func(e revoke.Entry) { got <- e })
	sid := newSID(t, now)
	want := sessionEntry(t, "acme", sid)
	revoke1(t, s, want)
	select {
	case e := <-got:
		if e.Kind != want.Kind || e.Tenant != want.Tenant || e.Subject != want.Subject || !e.Expires.Equal(want.Expires) {
			t.Fatalf("subscriber got %v; want %v", e, want)
		}
	case <-time.After(time.Second):
		t.Fatal("subscriber not told of a revocation within 1s")
	}
	cancel()
	cancel() // twice is fine
	revoke1(t, s, revoke.TenantEntry("acme", now, Leeway))
	select {
	case e := <-got:
		t.Fatalf("cancelled subscriber got %v", e)
	case <-time.After(100 * time.Millisecond):
	}
}

func testConcurrent(t *testing.T, s revoke.Store, clk *Clock) {
	now := clk.Now()
	const writers, each = 4, 25
	sids := make([][]string, writers)
	for w := range sids {
		for range each {
			sids[w] = append(sids[w], newSID(t, now))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for _, sid := range sids[w] {
				e, _ := revoke.SessionEntry("acme", sid, Leeway)
				if err := s.Revoke(context.Background(), e); err != nil {
					errs <- err
				}
			}
		})
		wg.Go(func() {
			for _, sid := range sids[w] {
				c := claims("acme", "alice", sid, now)
				if _, err := s.IsRevoked(&c); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range sids {
		for _, sid := range sids[w] {
			expect(t, s, []check{{"session " + sid, claims("acme", "alice", sid, now), true}})
		}
	}
}
