package ticket

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// DefaultMaxTickets bounds a Memory store: a ticket lives seconds, so even
// a busy process holds a few hundred.
const DefaultMaxTickets = 100000

// Memory is the ticket store of the embedded default: one process, tickets
// in a map keyed by their hash. A session holds at most maxPerSession
// outstanding tickets (ErrSessionLimit past it); the store holds at most
// DefaultMaxTickets in all, the last resort: when full it drops the expired
// ones, and if none have expired Issue fails (wrapping ErrFull and
// ErrUnavailable) rather than drop a ticket a browser is about to redeem.
// Expired tickets nobody redeemed are swept once a minute. It is safe for
// concurrent use.
type Memory struct {
	now           func() time.Time
	max           int
	maxPerSession int

	mu        sync.Mutex
	tickets   map[string]memoryTicket
	bySession map[string]map[string]time.Time // sid → hash → expires
	prunedAt  time.Time
}

type memoryTicket struct {
	claims  token.Claims
	expires time.Time
}

// NewMemory returns an empty store reading the time from now (nil means
// time.Now), holding at most maxPerSession outstanding tickets per session
// (0 means DefaultMaxPerSession).
func NewMemory(now func() time.Time, maxPerSession int) *Memory {
	if now == nil {
		now = time.Now
	}
	if maxPerSession <= 0 {
		maxPerSession = DefaultMaxPerSession
	}
	return &Memory{now: now, max: DefaultMaxTickets, maxPerSession: maxPerSession,
		tickets: map[string]memoryTicket{}, bySession: map[string]map[string]time.Time{}}
}

// Issue returns a new ticket carrying a copy of c, valid for ttl.
func (m *Memory) Issue(_ context.Context, c *token.Claims, ttl time.Duration) (string, error) {
	if err := checkIssue(c, ttl); err != nil {
		return "", err
	}
	t, err := New()
	if err != nil {
		return "", err
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	own := m.bySession[c.SessionID]
	if len(own) >= m.maxPerSession {
		for h, exp := range own { // a few entries: the session's own
			if !now.Before(exp) {
				m.forget(c.SessionID, h)
			}
		}
		if own = m.bySession[c.SessionID]; len(own) >= m.maxPerSession {
			return "", fmt.Errorf("ticket: %d outstanding: %w", len(own), ErrSessionLimit)
		}
	}
	full := len(m.tickets) >= m.max
	if since := now.Sub(m.prunedAt); since >= time.Minute || full && since >= time.Second {
		m.prune(now)
	}
	if len(m.tickets) >= m.max {
		return "", fmt.Errorf("ticket: %d tickets outstanding: %w: %w", len(m.tickets), ErrFull, ErrUnavailable)
	}
	h := Hash(c.SessionID, t)
	m.tickets[h] = memoryTicket{claims: *c, expires: now.Add(ttl)}
	if own == nil {
		own = map[string]time.Time{}
		m.bySession[c.SessionID] = own
	}
	own[h] = now.Add(ttl)
	return t, nil
}

// forget drops the ticket of hash h of session sid. Its caller holds mu.
func (m *Memory) forget(sid, h string) {
	delete(m.tickets, h)
	if own := m.bySession[sid]; own != nil {
		delete(own, h)
		if len(own) == 0 {
			delete(m.bySession, sid)
		}
	}
}

// Redeem returns the claims of ticket, issued for sessionID, and forgets
// it.
func (m *Memory) Redeem(_ context.Context, sessionID, ticket string) (*token.Claims, error) {
	if !Valid(ticket) {
		return nil, ErrInvalid
	}
	h := Hash(sessionID, ticket)
	now := m.now()
	m.mu.Lock()
	t, ok := m.tickets[h]
	if ok {
		m.forget(t.claims.SessionID, h)
	}
	m.mu.Unlock()
	if !ok || !now.Before(t.expires) {
		return nil, ErrInvalid
	}
	c := t.claims
	return &c, nil
}

// Len returns the number of tickets held, expired ones included until they
// are pruned.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tickets)
}

// prune drops expired tickets (never redeemed). Its caller holds mu. It
// runs once a minute, or when the store is full at most once a second: a
// flood of issues then costs a map insert each, not a sweep each.
func (m *Memory) prune(now time.Time) {
	m.prunedAt = now
	for h, t := range m.tickets {
		if !now.Before(t.expires) {
			m.forget(t.claims.SessionID, h)
		}
	}
}
