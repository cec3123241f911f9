// Package quotatest is the contract every quota.Store passes: the
// in-process one and the one on Redis.
package quotatest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/quota"
)

// Run checks the store newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) quota.Store) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	hour := now.Add(time.Hour)

	t.Run("sessions bounded, a known one always admitted", func(t *testing.T) {
		s := newStore(t)
		lim := quota.Limits{Sessions: 2}
		for _, sid := range []string{"s1", "s2", "s1"} {
			if err := s.Admit(ctx, "acme", sid, now, hour, 10, lim); err != nil {
				t.Fatalf("Admit(%s): %v", sid, err)
			}
		}
		if err := s.Admit(ctx, "acme", "s3", now, hour, 10, lim); !errors.Is(err, quota.ErrSessions) {
			t.Fatalf("a third session: %v, want ErrSessions", err)
		}
		if err := s.Admit(ctx, "globex", "s3", now, hour, 10, lim); err != nil {
			t.Fatalf("another tenant's session: %v", err)
		}
		if n, b, err := s.Usage(ctx, "acme", now); err != nil || n != 2 || b != 30 {
			t.Fatalf("Usage = %d sessions, %d bytes, %v; want 2, 30", n, b, err)
		}
	})

	t.Run("bytes bounded; replies counted", func(t *testing.T) {
		s := newStore(t)
		lim := quota.Limits{Bytes: 100}
		if err := s.Admit(ctx, "acme", "s1", now, hour, 60, lim); err != nil {
			t.Fatal(err)
		}
		if err := s.Add(ctx, "acme", "s1", now, hour, 50); err != nil {
			t.Fatal(err)
		}
		if err := s.Admit(ctx, "acme", "s2", now, hour, 1, lim); !errors.Is(err, quota.ErrBytes) {
			t.Fatalf("past the bytes: %v, want ErrBytes", err)
		}
		if _, b, _ := s.Usage(ctx, "acme", now); b != 110 {
			t.Fatalf("bytes = %d, want 110", b)
		}
	})

	t.Run("an expired log frees its share", func(t *testing.T) {
		s := newStore(t)
		lim := quota.Limits{Sessions: 1, Bytes: 100}
		if err := s.Admit(ctx, "acme", "s1", now, now.Add(time.Minute), 99, lim); err != nil {
			t.Fatal(err)
		}
		later := now.Add(2 * time.Minute)
		if err := s.Admit(ctx, "acme", "s2", later, later.Add(time.Hour), 5, lim); err != nil {
			t.Fatalf("after s1's log expired: %v", err)
		}
		if n, b, _ := s.Usage(ctx, "acme", later); n != 1 || b != 5 {
			t.Fatalf("Usage = %d, %d; want 1, 5", n, b)
		}
	})

	t.Run("concurrent admits never pass the cap", func(t *testing.T) {
		s := newStore(t)
		lim := quota.Limits{Sessions: 5}
		var admitted sync.Map
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				sid := "s" + string(rune('a'+i))
				if err := s.Admit(ctx, "acme", sid, now, hour, 1, lim); err == nil {
					admitted.Store(sid, true)
				} else if !errors.Is(err, quota.ErrSessions) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n := 0
		admitted.Range(func(any, any) bool { n++; return true })
		if n != 5 {
			t.Fatalf("%d sessions admitted, want exactly 5", n)
		}
	})
}
