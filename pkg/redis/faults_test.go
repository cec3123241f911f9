package redis_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/revoke"
)

// allBefore returns the Before of r's all entry, if it has one.
func allBefore(r *redis.Revocations) (time.Time, bool) {
	for _, e := range r.Entries() {
		if e.Kind == revoke.KindAll {
			return e.Before, true
		}
	}
	return time.Time{}, false
}

// TestFirstStart: on a Redis that never held revocations, the first mirror
// writes the all entry and the marker, says so at error level, and returns
// from Start only once a token it mints can no longer be covered by it.
func TestFirstStart(t *testing.T) {
	srv := redistest.Start(t)
	log, obs := logs()
	cfg := fast()
	cfg.Logger = log
	before := tok(t, time.Now().Add(-time.Minute))
	a := start(t, srv, cfg)
	minted := tok(t, time.Now()) // minted right after Start
	if !revoked(a, before) {
		t.Error("a token issued before the first start is not revoked")
	}
	if revoked(a, minted) {
		t.Error("a token minted after Start is born revoked")
	}
	if n := obs.count("was empty"); n != 1 {
		t.Errorf("%d error logs about an empty Redis; want 1", n)
	}
	if !client(t, srv).HExists(context.Background(), redis.LayoutOf(redis.DefaultNamespace).Entries, redis.MarkerField).Val() {
		t.Error("no marker")
	}
	b := start(t, srv, cfg) // the marker is there now: no second all entry
	if n := obs.count("was empty"); n != 1 {
		t.Errorf("%d error logs after a second replica started; want 1", n)
	}
	if !revoked(b, before) || revoked(b, minted) {
		t.Error("the second replica disagrees")
	}
}

// TestOutage stops Redis under two replicas and brings it back empty.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	log, obs := logs()
	cfg := fast()
	cfg.Logger, cfg.StalenessBudget = log, 2*time.Second // room for a slow CI
	a, b := start(t, srv, cfg), start(t, srv, cfg)
	ctx := context.Background()

	// Redis was new: the first start wrote an all entry already.
	firstCut, _ := allBefore(a)
	issued := time.Now()
	gone, live := tok(t, issued), tok(t, issued)
	if err := a.Revoke(ctx, sessionEntry(t, "acme", gone.SessionID)); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "b sees the revocation", func() bool { return revoked(b, gone) })

	srv.Stop()
	t.Run("a revoked token stays revoked", func(t *testing.T) {
		// Others are answered for a moment, or fail closed: blind (the
		// subscription down too), a mirror vouches for one poll interval
		// only (see revoke.Mirror.FeedDown).
		for _, r := range []*redis.Revocations{a, b} {
			if got, err := r.IsRevoked(&gone); !got || err != nil {
				t.Errorf("IsRevoked(revoked) = %v, %v; want true, nil", got, err)
			}
			if got, err := r.IsRevoked(&live); got || (err != nil && !errors.Is(err, revoke.ErrStale)) {
				t.Errorf("IsRevoked(live) = %v, %v; want false, with nil or ErrStale", got, err)
			}
		}
	})
	t.Run("a revocation during the outage is an error", func(t *testing.T) {
		err := a.Revoke(ctx, sessionEntry(t, "acme", live.SessionID))
		if !errors.Is(err, revoke.ErrUnavailable) {
			t.Fatalf("Revoke = %v; want ErrUnavailable", err)
		}
	})
	t.Run("past the budget the mirrors fail closed", func(t *testing.T) {
		within(t, cfg.StalenessBudget+time.Second, "stale", func() bool {
			_, err := b.IsRevoked(&live)
			return errors.Is(err, revoke.ErrStale)
		})
		if got, err := b.IsRevoked(&gone); !got || err != nil {
			t.Errorf("a token known revoked: IsRevoked = %v, %v; want true, nil", got, err)
		}
		if err := b.Fresh(); !errors.Is(err, revoke.ErrStale) {
			t.Errorf("Fresh = %v; want ErrStale", err)
		}
		if obs.count("stale") == 0 {
			t.Error("staleness not logged")
		}
	})

	srv.Restart() // empty: persistence is off
	t.Run("back empty, every token issued before stays revoked", func(t *testing.T) {
		for _, r := range []*redis.Revocations{a, b} {
			within(t, 3*time.Second, "new all entry, fresh again", func() bool {
				cut, _ := allBefore(r)
				return cut.After(firstCut) && r.Fresh() == nil && revoked(r, live) && revoked(r, gone)
			})
		}
		if n := obs.count("was empty"); n != 2 {
			t.Errorf("%d all entries written (first start, restart); want exactly 2", n)
		}
		cut, _ := allBefore(a)
		if cutB, _ := allBefore(b); !cut.Equal(cutB) {
			t.Errorf("all entries differ: %v and %v", cut, cutB)
		}
		after := tok(t, cut.Add(time.Second))
		if revoked(a, after) || revoked(b, after) {
			t.Error("a token minted after the detection is revoked")
		}
		if err := a.Revoke(ctx, sessionEntry(t, "acme", after.SessionID)); err != nil {
			t.Fatalf("Revoke after the restart: %v", err)
		}
		within(t, time.Second, "b sees a new revocation", func() bool { return revoked(b, after) })
	})
}

// TestFlushAll empties a live Redis: the next poll finds the marker gone.
func TestFlushAll(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	seedMarker(t, c, redis.DefaultNamespace)
	cfg := fast()
	a, b := start(t, srv, cfg), start(t, srv, cfg)
	ctx := context.Background()
	issued := time.Now()
	user, other := tok(t, issued), tok(t, issued)
	other.Subject = "bob"
	if err := a.Revoke(ctx, revoke.UserEntry("acme", "alice", time.Now(), leeway)); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "b sees the revocation", func() bool { return revoked(b, user) })
	if _, ok := allBefore(b); ok || revoked(b, other) {
		t.Fatal("an all entry before the flush")
	}

	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	took := within(t, 4*cfg.PollInterval+time.Second, "flush detected", func() bool {
		_, okA := allBefore(a)
		_, okB := allBefore(b)
		return okA && okB
	})
	t.Logf("FLUSHALL detected by both replicas in %v (poll interval %v)", took, cfg.PollInterval)
	if !revoked(a, user) || !revoked(b, user) || !revoked(b, other) {
		t.Error("a token issued before the flush is not revoked")
	}
	if got := c.HLen(ctx, redis.LayoutOf(redis.DefaultNamespace).Entries).Val(); got < 1 {
		t.Errorf("%d entries in Redis after the detection", got)
	}
}

// TestStartWithRedisDown: Start fails, and nothing is served as fresh.
func TestStartWithRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	srv.Stop()
	r, err := redis.NewRevocations(c, fast())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Start(ctx); !errors.Is(err, revoke.ErrUnavailable) {
		t.Fatalf("Start = %v; want ErrUnavailable", err)
	}
	tk := tok(t, time.Now())
	if _, err := r.IsRevoked(&tk); !errors.Is(err, revoke.ErrStale) || !strings.Contains(err.Error(), "revocation state unknown") {
		t.Fatalf("IsRevoked = %v; want ErrStale", err)
	}
}

// TestSubscriptionKilled drops the replicas' subscriptions: they
// re-subscribe, and a revocation published meanwhile still arrives (by the
// re-sync a new subscription triggers, or the poll).
func TestSubscriptionKilled(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	seedMarker(t, c, redis.DefaultNamespace)
	cfg := fast()
	a, b := start(t, srv, cfg), start(t, srv, cfg)
	ctx := context.Background()
	for i := range 3 {
		if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		tk := tok(t, time.Now())
		if err := a.Revoke(ctx, sessionEntry(t, "acme", tk.SessionID)); err != nil {
			t.Fatal(err)
		}
		took := within(t, time.Second, "revocation reaches b", func() bool { return revoked(b, tk) })
		t.Logf("round %d: seen by b %v after its subscription was killed", i, took)
	}
	tk := tok(t, time.Now())
	if err := b.Revoke(ctx, sessionEntry(t, "acme", tk.SessionID)); err != nil {
		t.Fatal(err)
	}
	within(t, 100*time.Millisecond, "pub/sub works again", func() bool { return revoked(a, tk) })
}
