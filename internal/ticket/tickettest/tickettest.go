// Package tickettest holds the contract every ticket.Store must meet. The
// in-memory store and the Redis adapter both run it, so the embedded
// default and production cannot drift apart.
package tickettest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// ShortTTL is the TTL of the expiry case. Run waits it out on the wall
// clock as well as on the clock it hands the store, so that a store whose
// expiry a server keeps (Redis) is tested as well as one that reads the
// clock.
const ShortTTL = 100 * time.Millisecond

// MaxPerSession is the per-session bound Run asks of the stores.
const MaxPerSession = 3

// Run checks that the stores newStore returns behave as a ticket.Store
// must. newStore is called once per case with the clock the store must read
// (a store that keeps time elsewhere may ignore it) and the most
// outstanding tickets a session may hold (MaxPerSession); the store starts
// empty.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time, maxPerSession int) ticket.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s ticket.Store, clk *clock)
	}{
		{"claims round-trip", testRoundTrip},
		{"tickets are random and well-formed", testForm},
		{"single use", testSingleUse},
		{"single use under concurrent redeems", testConcurrentRedeem},
		{"a ticket of another session is not spent", testOtherSession},
		{"tickets are independent", testIndependent},
		{"tickets expire", testExpiry},
		{"garbage is invalid", testGarbage},
		{"issue refuses bad arguments", testBadIssue},
		{"a session's outstanding tickets are bounded", testSessionLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Now()}
			tc.run(t, newStore(t, clk.Now, MaxPerSession), clk)
		})
	}
}

// Claims returns the claims of a session, different for each sid.
func Claims(sid string) token.Claims {
	return token.Claims{
		Issuer: "https://widget.example", Audience: "causeflow-widget", Subject: "user_alice", Tenant: "demo",
		SessionID: sid, ID: sid, IssuedAt: 1749736800, NotBefore: 1749736800, Expiry: 1749765600,
		Incident: "inc_EXAMPLE_01JX", Scope: token.Scope,
	}
}

func issue(t *testing.T, s ticket.Store, c token.Claims, ttl time.Duration) string {
	t.Helper()
	tk, err := s.Issue(t.Context(), &c, ttl)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tk
}

func wantRedeem(t *testing.T, s ticket.Store, tk string, want token.Claims) {
	t.Helper()
	got, err := s.Redeem(t.Context(), want.SessionID, tk)
	if err != nil || got == nil || *got != want {
		t.Fatalf("Redeem = %+v, %v; want %+v", got, err, want)
	}
}

func wantInvalid(t *testing.T, s ticket.Store, sid, tk string) {
	t.Helper()
	got, err := s.Redeem(t.Context(), sid, tk)
	if !errors.Is(err, ticket.ErrInvalid) || got != nil {
		t.Errorf("Redeem(%.12q...) = %+v, %v; want ErrInvalid", tk, got, err)
	}
}

func testRoundTrip(t *testing.T, s ticket.Store, _ *clock) {
	c := Claims("wsess_1")
	tk := issue(t, s, c, time.Minute)
	want := c
	c.Subject = "changed after issue" // the store keeps its own copy
	wantRedeem(t, s, tk, want)
	empty := token.Claims{}
	wantRedeem(t, s, issue(t, s, empty, time.Minute), empty)
}

func testForm(t *testing.T, s ticket.Store, _ *clock) {
	seen := map[string]bool{}
	for i := range 20 {
		tk := issue(t, s, Claims(fmt.Sprintf("wsess_%d", i)), time.Minute)
		if !strings.HasPrefix(tk, ticket.Prefix) || !ticket.Valid(tk) || seen[tk] {
			t.Fatalf("ticket %q: malformed or repeated", tk)
		}
		seen[tk] = true
	}
}

func testSingleUse(t *testing.T, s ticket.Store, _ *clock) {
	c := Claims("wsess_1")
	tk := issue(t, s, c, time.Minute)
	wantRedeem(t, s, tk, c)
	wantInvalid(t, s, c.SessionID, tk)
	wantInvalid(t, s, c.SessionID, tk)
}

// testOtherSession: a ticket presented for another session is invalid
// there, and not spent: its own session still redeems it.
func testOtherSession(t *testing.T, s ticket.Store, _ *clock) {
	c := Claims("wsess_1")
	tk := issue(t, s, c, time.Minute)
	wantInvalid(t, s, "wsess_2", tk)
	wantInvalid(t, s, "", tk)
	wantRedeem(t, s, tk, c)
}

func testConcurrentRedeem(t *testing.T, s ticket.Store, _ *clock) {
	for round := range 5 {
		c := Claims("wsess_1")
		tk := issue(t, s, c, time.Minute)
		var wins, invalid atomic.Int64
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				<-start
				got, err := s.Redeem(t.Context(), c.SessionID, tk)
				switch {
				case err == nil && got != nil && *got == c:
					wins.Add(1)
				case errors.Is(err, ticket.ErrInvalid):
					invalid.Add(1)
				default:
					t.Errorf("Redeem = %+v, %v", got, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || invalid.Load() != 19 {
			t.Fatalf("round %d: %d redeems won and %d were refused; want 1 and 19", round, wins.Load(), invalid.Load())
		}
	}
}

func testIndependent(t *testing.T, s ticket.Store, _ *clock) {
	a, b := Claims("wsess_a"), Claims("wsess_b")
	ta, tb := issue(t, s, a, time.Minute), issue(t, s, b, time.Minute)
	wantRedeem(t, s, tb, b)
	wantRedeem(t, s, ta, a)
}

func testExpiry(t *testing.T, s ticket.Store, clk *clock) {
	c := Claims("wsess_1")
	short := issue(t, s, c, ShortTTL)
	kept := issue(t, s, c, ShortTTL)
	long := issue(t, s, c, time.Hour)
	clk.Advance(ShortTTL / 2)
	wantRedeem(t, s, kept, c) // still valid half-way
	clk.Advance(ShortTTL)
	time.Sleep(ShortTTL + ShortTTL/2)
	wantInvalid(t, s, c.SessionID, short)
	wantRedeem(t, s, long, c)
}

func testGarbage(t *testing.T, s ticket.Store, _ *clock) {
	issued := issue(t, s, Claims("wsess_1"), time.Minute)
	unknown, err := ticket.New()
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(issued, ticket.Prefix)
	for _, tk := range []string{
		"", ticket.Prefix, unknown, issued[:len(issued)-1], issued + "A", issued + "=",
		"wst_live_" + body, "WSTK_" + body, " " + issued, issued + "\n",
		ticket.Prefix + strings.Repeat("*", len(body)), ticket.Prefix + strings.ReplaceAll(body, body[:1], "+"),
		ticket.Hash("wsess_1", issued), strings.Repeat("a", 10000),
	} {
		wantInvalid(t, s, "wsess_1", tk)
	}
	wantRedeem(t, s, issued, Claims("wsess_1")) // none of the above used it up
}

func testBadIssue(t *testing.T, s ticket.Store, _ *clock) {
	if tk, err := s.Issue(t.Context(), nil, time.Minute); err == nil {
		t.Errorf("Issue(nil claims) = %q, want an error", tk)
	}
	c := Claims("wsess_1")
	for _, ttl := range []time.Duration{0, -time.Second} {
		if tk, err := s.Issue(t.Context(), &c, ttl); err == nil {
			t.Errorf("Issue(TTL %v) = %q, want an error", ttl, tk)
		}
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// testSessionLimit: a session holding MaxPerSession outstanding tickets is
// refused another (ErrSessionLimit) while every other session still gets
// its own; redeeming one, or letting them expire, makes room again.
func testSessionLimit(t *testing.T, s ticket.Store, clk *clock) {
	greedy, other := Claims("wsess_greedy"), Claims("wsess_other")
	var held []string
	for range MaxPerSession {
		held = append(held, issue(t, s, greedy, ShortTTL))
	}
	if tk, err := s.Issue(t.Context(), &greedy, ShortTTL); !errors.Is(err, ticket.ErrSessionLimit) || tk != "" {
		t.Fatalf("Issue past the per-session bound = %q, %v; want ErrSessionLimit", tk, err)
	}
	wantRedeem(t, s, issue(t, s, other, ShortTTL), other) // another session is not affected
	wantRedeem(t, s, held[0], greedy)
	held[0] = issue(t, s, greedy, ShortTTL) // a redeemed ticket frees its place
	if _, err := s.Issue(t.Context(), &greedy, ShortTTL); !errors.Is(err, ticket.ErrSessionLimit) {
		t.Fatalf("Issue past the bound again = %v; want ErrSessionLimit", err)
	}
	clk.Advance(ShortTTL + time.Millisecond)
	time.Sleep(ShortTTL + 20*time.Millisecond) // a server-side expiry runs on the wall clock
	for range MaxPerSession {                  // expired tickets free their places
		issue(t, s, greedy, time.Minute)
	}
}
