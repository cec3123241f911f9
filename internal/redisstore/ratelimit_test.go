package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/ratelimit/ratelimittest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestRateLimiterContract runs the limiter contract on one server, each
// case in a namespace of its own. Redis keeps the windows itself: the
// contract's clock is not read.
func TestRateLimiterContract(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ratelimittest.Run(t, func(t *testing.T, n int, window time.Duration, _ func() time.Time) ratelimit.Limiter {
		l, err := redisstore.NewRateLimiter(c, namespace(), n, window)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}

// TestRateLimiterLayout pins the counter's key, value and expiry, and
// checks that a counter that lost its expiry gets one back.
func TestRateLimiterLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ns := namespace()
	l, err := redisstore.NewRateLimiter(c, ns, 5, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	key := ns + ":rl:wsess_1%3Ax"
	if got := l.Key("wsess_1:x"); got != key {
		t.Fatalf("Key = %q, want %q", got, key)
	}
	for range 2 {
		if ok, _, err := l.Allow(ctx, "wsess_1:x"); !ok || err != nil {
			t.Fatalf("Allow = %v, %v", ok, err)
		}
	}
	if v := c.Get(ctx, key).Val(); v != "2" {
		t.Errorf("counter = %q, want 2", v)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl <= 9*time.Second || ttl > 10*time.Second {
		t.Errorf("PTTL = %v, want about 10s", ttl)
	}
	// A counter without an expiry (written by hand here) is repaired.
	if err := c.Set(ctx, l.Key("stuck"), 9, 0).Err(); err != nil {
		t.Fatal(err)
	}
	ok, retry, err := l.Allow(ctx, "stuck")
	if ok || err != nil || retry != 10*time.Second {
		t.Errorf("Allow(stuck) = %v, %v, %v; want refused for the whole window", ok, retry, err)
	}
	if ttl := c.PTTL(ctx, l.Key("stuck")).Val(); ttl <= 0 {
		t.Errorf("stuck counter PTTL = %v, want an expiry", ttl)
	}
	if _, err := redisstore.NewRateLimiter(c, ns, 0, time.Minute); err == nil {
		t.Error("NewRateLimiter(0 per minute): no error")
	}
}

// TestRateLimiterDown: a stopped Redis is an error wrapping
// ratelimit.ErrUnavailable, and not an "allowed".
func TestRateLimiterDown(t *testing.T) {
	srv := redistest.Start(t)
	l, err := redisstore.NewRateLimiter(client(t, srv), namespace(), 5, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if ok, _, err := l.Allow(ctx, "wsess_1"); ok || !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("Allow(Redis down) = %v, %v; want false, ErrUnavailable", ok, err)
	}
}
