package ratelimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/ratelimit/ratelimittest"
)

func TestMemoryContract(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T, n int, window time.Duration, now func() time.Time) ratelimit.Limiter {
		m, err := ratelimit.NewMemory(n, window, now)
		if err != nil {
			t.Fatal(err)
		}
		return m
	})
}

func TestCheckRule(t *testing.T) {
	cases := []struct {
		n      int
		window time.Duration
		ok     bool
	}{
		{1, time.Millisecond, true},
		{20, time.Minute, true},
		{0, time.Minute, false},
		{-1, time.Minute, false},
		{1, 0, false},
		{1, time.Millisecond - 1, false},
		{1, -time.Second, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d per %v", tc.n, tc.window), func(t *testing.T) {
			if err := ratelimit.CheckRule(tc.n, tc.window); (err == nil) != tc.ok {
				t.Errorf("CheckRule = %v, want ok %v", err, tc.ok)
			}
			if _, err := ratelimit.NewMemory(tc.n, tc.window, nil); (err == nil) != tc.ok {
				t.Errorf("NewMemory = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestMemoryExactRetryAfter: on a fixed clock, retry-after is exactly the
// rest of the window, and the window ends exactly at start + window.
func TestMemoryExactRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 12, 14, 0, 0, 0, time.UTC)
	m, err := ratelimit.NewMemory(1, time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance time.Duration
		ok      bool
		retry   time.Duration
	}{
		{0, true, 0},
		{0, false, time.Minute},
		{20 * time.Second, false, 40 * time.Second},
		{40*time.Second - time.Nanosecond, false, time.Nanosecond},
		{time.Nanosecond, true, 0},
		{time.Second, false, 59 * time.Second},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		ok, retry, err := m.Allow(t.Context(), "k")
		if err != nil || ok != s.ok || retry != s.retry {
			t.Errorf("step %d: Allow = %v, %v, %v; want %v, %v", i, ok, retry, err, s.ok, s.retry)
		}
	}
}

// TestMemoryBounded: new keys past the bound evict, and the bound holds.
func TestMemoryBounded(t *testing.T) {
	now := time.Now()
	m, err := ratelimit.NewMemory(1, time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for i := range ratelimit.DefaultMaxKeys + 100 {
		if ok, _, _ := m.Allow(t.Context(), fmt.Sprint(i)); !ok {
			t.Fatalf("first event of key %d refused", i)
		}
	}
	if n := m.Len(); n != ratelimit.DefaultMaxKeys {
		t.Errorf("Len = %d, want %d", n, ratelimit.DefaultMaxKeys)
	}
	last := fmt.Sprint(ratelimit.DefaultMaxKeys + 99)
	if ok, _, _ := m.Allow(t.Context(), last); ok {
		t.Error("the newest key was evicted")
	}
}
