// Package quota bounds what one tenant stores: the sessions holding an
// event log, and the bytes written to those logs, so that one tenant
// filling Redis cannot refuse writes to every other (a full Redis under
// noeviction refuses them all). Chat asks Admit before it accepts a
// message, and counts the reply's bytes with Add once it is written. A
// session stops counting when its log expires (its token's expiry).
//
// The bytes are those written to the tenant's live logs, the user's
// messages and the replies, as the service wrote them: a log trimmed to its
// last events still counts what was trimmed, so the figure errs on the
// side of the other tenants.
package quota

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Limits are one tenant's caps; zero fields are unlimited.
type Limits struct {
	Sessions int   // sessions holding an event log at once
	Bytes    int64 // bytes written to those logs
}

// Errors of Admit, for errors.Is.
var (
	ErrSessions    = errors.New("quota: the tenant holds as many session logs as it may")
	ErrBytes       = errors.New("quota: the tenant's session logs hold as many bytes as they may")
	ErrUnavailable = errors.New("quota: store unavailable")
)

// Store counts each tenant's live session logs and their bytes.
type Store interface {
	// Admit is asked before a message of session sid (of tenant, whose log
	// lives until expires) is accepted. It refuses with ErrSessions when
	// the tenant holds lim.Sessions live logs and sid is not one of them,
	// and with ErrBytes when their bytes have reached lim.Bytes; otherwise
	// it records sid's log and counts n bytes to it.
	Admit(ctx context.Context, tenant, sid string, now, expires time.Time, n int64, lim Limits) error
	// Add counts n more bytes to sid's log, whatever the limits: a reply
	// written after its message was admitted.
	Add(ctx context.Context, tenant, sid string, now, expires time.Time, n int64) error
	// Usage returns the tenant's live session logs and their bytes.
	Usage(ctx context.Context, tenant string, now time.Time) (sessions int, bytes int64, err error)
}

// Memory is the in-process Store of one replica.
type Memory struct {
	mu      sync.Mutex
	tenants map[string]*usage
}

type usage struct {
	logs  map[string]log // by session
	bytes int64
}

type log struct {
	expires time.Time
	bytes   int64
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{tenants: map[string]*usage{}} }

// Admit implements Store.
func (m *Memory) Admit(_ context.Context, tenant, sid string, now, expires time.Time, n int64, lim Limits) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.live(tenant, now)
	l, known := u.logs[sid]
	switch {
	case !known && lim.Sessions > 0 && len(u.logs) >= lim.Sessions:
		return ErrSessions
	case lim.Bytes > 0 && u.bytes >= lim.Bytes:
		return ErrBytes
	}
	l.expires = later(l.expires, expires)
	l.bytes += n
	u.logs[sid], u.bytes = l, u.bytes+n
	return nil
}

// Add implements Store.
func (m *Memory) Add(_ context.Context, tenant, sid string, now, expires time.Time, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.live(tenant, now)
	l := u.logs[sid]
	l.expires = later(l.expires, expires)
	l.bytes += n
	u.logs[sid], u.bytes = l, u.bytes+n
	return nil
}

// Usage implements Store.
func (m *Memory) Usage(_ context.Context, tenant string, now time.Time) (int, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u := m.live(tenant, now)
	return len(u.logs), u.bytes, nil
}

// live returns tenant's usage with the expired logs dropped.
func (m *Memory) live(tenant string, now time.Time) *usage {
	u, ok := m.tenants[tenant]
	if !ok {
		u = &usage{logs: map[string]log{}}
		m.tenants[tenant] = u
	}
	for sid, l := range u.logs {
		if !l.expires.After(now) {
			u.bytes -= l.bytes
			delete(u.logs, sid)
		}
	}
	return u
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
