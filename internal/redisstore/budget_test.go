package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/budget/budgettest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

func TestBudgetContract(t *testing.T) {
	c := client(t, redistest.Start(t))
	budgettest.Run(t, func(*testing.T) budget.Store { return redisstore.NewBudget(c, namespace()) })
}

// TestBudgetLayout: one key per tenant and UTC day, expiring.
func TestBudgetLayout(t *testing.T) {
	c := client(t, redistest.Start(t))
	b := redisstore.NewBudget(c, "ns")
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := b.Spend(context.Background(), "acme", at, 42); err != nil {
		t.Fatal(err)
	}
	key := "ns:budget:20261206:acme"
	if b.Key("acme", at) != key {
		t.Fatalf("Key = %q, want %q", b.Key("acme", at), key)
	}
	if n, _ := c.Get(context.Background(), key).Int64(); n != 42 {
		t.Errorf("%s = %d, want 42", key, n)
	}
	if ttl := c.TTL(context.Background(), key).Val(); ttl <= 24*time.Hour || ttl > 48*time.Hour {
		t.Errorf("TTL %v, want within 48 h", ttl)
	}
}
