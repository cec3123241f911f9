// Package ratelimittest holds the contract every ratelimit.Limiter must
// meet. The in-memory limiter and the Redis adapter both run it, so the
// embedded default and production cannot drift apart.
package ratelimittest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
)

// ShortWindow is the window of the cases that wait for a window to end.
// Run waits it out on the wall clock as well as on the clock it hands the
// limiter, so that a limiter whose windows a server keeps (Redis) is tested
// as well as one that reads the clock.
const ShortWindow = 150 * time.Millisecond

// New returns a limiter of n events per window per key, reading the time
// from now (a limiter that keeps time elsewhere may ignore it), with no key
// counted yet.
type New func(t *testing.T, n int, window time.Duration, now func() time.Time) ratelimit.Limiter

// Run checks that the limiters newLimiter returns behave as a
// ratelimit.Limiter must.
func Run(t *testing.T, newLimiter New) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, newLimiter New, clk *clock)
	}{
		{"n allowed, then refused with a retry-after", testLimit},
		{"one per window", testOne},
		{"keys are independent", testKeys},
		{"the next window is allowed again", testNextWindow},
		{"concurrent events are counted exactly", testConcurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newLimiter, &clock{t: time.Now()})
		})
	}
}

func allow(t *testing.T, l ratelimit.Limiter, key string, want bool, window time.Duration) time.Duration {
	t.Helper()
	ok, retry, err := l.Allow(t.Context(), key)
	switch {
	case err != nil:
		t.Fatalf("Allow(%q): %v", key, err)
	case ok != want:
		t.Fatalf("Allow(%q) = %v, want %v", key, ok, want)
	case ok && retry != 0:
		t.Errorf("Allow(%q) allowed with retry-after %v, want 0", key, retry)
	case !ok && (retry <= 0 || retry > window):
		t.Errorf("Allow(%q) refused with retry-after %v, want it in (0, %v]", key, retry, window)
	}
	return retry
}

func testLimit(t *testing.T, newLimiter New, clk *clock) {
	const n, window = 3, time.Minute
	l := newLimiter(t, n, window, clk.Now)
	for range n {
		allow(t, l, "wsess_1", true, window)
	}
	first := allow(t, l, "wsess_1", false, window)
	clk.Advance(10 * time.Second)
	time.Sleep(5 * time.Millisecond)
	if later := allow(t, l, "wsess_1", false, window); later >= first {
		t.Errorf("retry-after %v, then %v later: want it to shrink", first, later)
	}
}

func testOne(t *testing.T, newLimiter New, clk *clock) {
	l := newLimiter(t, 1, time.Minute, clk.Now)
	allow(t, l, "wsess_1", true, time.Minute)
	allow(t, l, "wsess_1", false, time.Minute)
	allow(t, l, "wsess_1", false, time.Minute)
}

func testKeys(t *testing.T, newLimiter New, clk *clock) {
	const window = time.Minute
	l := newLimiter(t, 2, window, clk.Now)
	// Keys a limiter that joins or truncates carelessly would confuse.
	keys := []string{"a", "b", "A", "a:b", "a|b", "a:", ":b", "{a}", "%61", "ünï", ""}
	for _, k := range keys {
		allow(t, l, k, true, window)
		allow(t, l, k, true, window)
		allow(t, l, k, false, window)
	}
	allow(t, l, "c", true, window)
}

func testNextWindow(t *testing.T, newLimiter New, clk *clock) {
	l := newLimiter(t, 2, ShortWindow, clk.Now)
	allow(t, l, "wsess_1", true, ShortWindow)
	allow(t, l, "wsess_1", true, ShortWindow)
	allow(t, l, "wsess_1", false, ShortWindow)
	clk.Advance(ShortWindow)
	time.Sleep(ShortWindow + ShortWindow/2)
	allow(t, l, "wsess_1", true, ShortWindow)
	allow(t, l, "wsess_1", true, ShortWindow)
	allow(t, l, "wsess_1", false, ShortWindow)
}

func testConcurrent(t *testing.T, newLimiter New, clk *clock) {
	const n = 10
	l := newLimiter(t, n, time.Minute, clk.Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			ok, _, err := l.Allow(t.Context(), "wsess_1")
			if err != nil {
				t.Errorf("Allow: %v", err)
			}
			if ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != n {
		t.Errorf("%d of 50 concurrent events allowed, want %d", got, n)
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
