package revoke

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// Memory is the revocation store of the embedded default: one process, no
// backend. Its entries live as long as the process; that is enough because
// the embedded default also keeps its signing key in memory, so a restart
// invalidates every token anyway. (A process that loads its keys from a file
// and restarts would forget its revocations: such a deployment runs Redis.)
//
// Memory is safe for concurrent use.
type Memory struct {
	now       func() time.Time
	limits    Limits
	mu        sync.RWMutex
	set       Set
	listeners Listeners
}

// NewMemory returns an empty store holding at most limits (zero fields
// take the defaults). now is its clock, used to prune expired entries; nil
// means time.Now.
func NewMemory(now func() time.Time, limits Limits) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, limits: limits.WithDefaults()}
}

// Revoke records e. It is durable (for the life of the process) when Revoke
// returns. Expired entries are pruned on the way, so the store holds only
// entries that can still match a live token.
func (m *Memory) Revoke(ctx context.Context, e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	m.set.Prune(m.now())
	if !m.set.Has(e) {
		if e.Capped() && m.set.TenantLen(e.Tenant) >= m.limits.MaxPerTenant {
			m.mu.Unlock()
			return fmt.Errorf("revoke: tenant %q holds %d entries: %w", e.Tenant, m.limits.MaxPerTenant, ErrTenantLimit)
		}
		if m.set.Len() >= m.limits.MaxEntries {
			m.mu.Unlock()
			return fmt.Errorf("revoke: %d entries held: %w", m.limits.MaxEntries, ErrTooMany)
		}
	}
	merged, changed := m.set.Add(e)
	m.mu.Unlock()
	if changed {
		m.listeners.Notify(merged)
	}
	return nil
}

// IsRevoked reports whether a token with claims c is revoked. It is never
// stale and never fails.
func (m *Memory) IsRevoked(c *token.Claims) (bool, error) {
	m.mu.RLock()
	revoked := m.set.Revoked(c)
	m.mu.RUnlock()
	return revoked, nil
}

// Subscribe calls fn with each entry that revokes more than the store held
// before, until cancel is called. See Listeners for the rules fn must keep.
func (m *Memory) Subscribe(fn func(Entry)) (cancel func()) {
	return m.listeners.Subscribe(fn)
}

// Fresh returns nil: the store is its own truth, always current.
func (m *Memory) Fresh() error { return nil }

// Len returns the number of entries held.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.set.Len()
}

// Entries returns the entries held, ordered by kind, tenant and subject.
func (m *Memory) Entries() []Entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.set.Entries()
}

// Listeners is a set of functions told of revocations: a replica's stream
// hub ends the matching streams. The zero value is ready; it is safe for
// concurrent use.
//
// Notify calls every function synchronously, in the goroutine that applied
// the revocation, so a function must return quickly (hand work to another
// goroutine) and must not call back into the store that notifies it. A
// function may be told of the same revocation more than once (merged
// entries, a store's own writes echoed back) and must be idempotent.
type Listeners struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(Entry)
}

// Subscribe adds fn and returns the function that removes it. cancel may be
// called more than once.
func (l *Listeners) Subscribe(fn func(Entry)) (cancel func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fns == nil {
		l.fns = make(map[int]func(Entry))
	}
	id := l.next
	l.next++
	l.fns[id] = fn
	return func() {
		l.mu.Lock()
		delete(l.fns, id)
		l.mu.Unlock()
	}
}

// Notify calls every subscribed function with e.
func (l *Listeners) Notify(e Entry) {
	l.mu.Lock()
	if len(l.fns) == 0 {
		l.mu.Unlock()
		return
	}
	fns := make([]func(Entry), 0, len(l.fns))
	for _, fn := range l.fns {
		fns = append(fns, fn)
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}
