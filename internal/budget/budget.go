// Package budget counts each tenant's model tokens per UTC day, as the
// upstream reports them (usage of each reply), shared by every replica on
// Redis (internal/redisstore.Budget) or held in process (Memory). Chat
// checks a tenant's count against its budget before it accepts a message:
// past it, the tenant's users are told so until the day ends.
package budget

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrUnavailable means the count cannot be read or written now.
var ErrUnavailable = errors.New("budget: store unavailable")

// Store counts tokens by tenant and UTC day.
type Store interface {
	// Spent returns the tokens tenant has spent on the UTC day of at.
	Spent(ctx context.Context, tenant string, at time.Time) (int64, error)
	// Spend adds tokens to tenant's count of the UTC day of at.
	Spend(ctx context.Context, tenant string, at time.Time, tokens int64) error
}

// Day is the UTC day of t, as the stores key it: 20261206.
func Day(t time.Time) string { return t.UTC().Format("20060102") }

// UntilTomorrow is how long from t until the next UTC day, when a spent
// budget is whole again.
func UntilTomorrow(t time.Time) time.Duration {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC).Sub(t)
}

// Memory is the in-process Store of one replica. Counts of days before
// the latest day it has seen are dropped, so it holds at most two days.
type Memory struct {
	mu     sync.Mutex
	counts map[string]map[string]int64 // day → tenant → tokens
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{counts: map[string]map[string]int64{}} }

// Spent returns tenant's count of at's day.
func (m *Memory) Spent(_ context.Context, tenant string, at time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[Day(at)][tenant], nil
}

// Spend adds to tenant's count of at's day.
func (m *Memory) Spend(_ context.Context, tenant string, at time.Time, tokens int64) error {
	day := Day(at)
	m.mu.Lock()
	defer m.mu.Unlock()
	byTenant, ok := m.counts[day]
	if !ok {
		byTenant = map[string]int64{}
		m.counts[day] = byTenant
		yesterday := Day(at.Add(-24 * time.Hour))
		for d := range m.counts {
			if d < yesterday {
				delete(m.counts, d) // a day no clock will ask for again
			}
		}
	}
	byTenant[tenant] += tokens
	return nil
}
