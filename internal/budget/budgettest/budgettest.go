// Package budgettest is the contract every budget.Store passes: the
// in-process one and the one on Redis.
package budgettest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/budget"
)

// Run checks the store newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) budget.Store) {
	ctx := context.Background()
	day := time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC)

	t.Run("counts by tenant and day", func(t *testing.T) {
		s := newStore(t)
		for _, spend := range []struct {
			tenant string
			at     time.Time
			n      int64
		}{{"acme", day, 100}, {"acme", day.Add(30 * time.Second), 50}, {"globex", day, 7}, {"acme", day.Add(2 * time.Minute), 1000}} {
			if err := s.Spend(ctx, spend.tenant, spend.at, spend.n); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []struct {
			tenant string
			at     time.Time
			n      int64
		}{{"acme", day, 150}, {"globex", day.Add(-23 * time.Hour), 7}, {"acme", day.Add(2 * time.Minute), 1000}, {"initech", day, 0}} {
			if got, err := s.Spent(ctx, want.tenant, want.at); err != nil || got != want.n {
				t.Errorf("Spent(%s, %s) = %d, %v; want %d", want.tenant, want.at, got, err, want.n)
			}
		}
	})

	t.Run("tenants never share a count", func(t *testing.T) {
		s := newStore(t)
		for _, tenant := range []string{"a:b", "a", "a:b:" + budget.Day(day), "{a}", "a b"} {
			if err := s.Spend(ctx, tenant, day, 1); err != nil {
				t.Fatal(err)
			}
		}
		for _, tenant := range []string{"a:b", "a", "{a}", "a b"} {
			if got, _ := s.Spent(ctx, tenant, day); got != 1 {
				t.Errorf("Spent(%q) = %d, want 1", tenant, got)
			}
		}
	})

	t.Run("concurrent spends all count", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				for range 10 {
					if err := s.Spend(ctx, "acme", day, 3); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if got, _ := s.Spent(ctx, "acme", day); got != 600 {
			t.Errorf("Spent = %d after 200 spends of 3, want 600", got)
		}
	})
}
