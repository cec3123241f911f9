package events

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"
)

// sweepEvery is how often (on the log's clock) an Append also drops every
// expired session, so a long-running embedded default does not keep the
// logs of sessions nobody reads again.
const sweepEvery = time.Minute

// MemoryOptions tunes a Memory log. The zero value takes every default.
type MemoryOptions struct {
	// MaxLen is how many events a session's log keeps. Default
	// DefaultMaxLen.
	MaxLen int
	// Now is the clock of ids and expiry. Default time.Now.
	Now func() time.Time
}

// Memory is the event log of the embedded default: one process, no backend.
// Its ids have the form of Redis Stream ids and follow the same rule: the
// millisecond of the clock, or the previous id's millisecond with the next
// sequence number when the clock has not moved past it (or went back), so
// they strictly increase within a session. Notify is signalled by Append.
//
// Memory is safe for concurrent use.
type Memory struct {
	maxLen int
	now    func() time.Time

	mu        sync.RWMutex
	logs      map[string]*memLog
	lastSweep time.Time

	waiters Waiters
}

// memLog is one session's log.
type memLog struct {
	ids     []ID // ids[i] is events[i].ID parsed, for the binary search
	events  []Event
	last    ID // the last id handed out, even once trimmed
	trimmed ID // the last id the cap trimmed (zero: none)
	expires time.Time
}

var _ Log = (*Memory)(nil)

// NewMemory returns an empty log. A negative MaxLen is an error.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.MaxLen < 0 {
		return nil, errors.New("events: negative MaxLen")
	}
	if opts.MaxLen == 0 {
		opts.MaxLen = DefaultMaxLen
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Memory{maxLen: opts.MaxLen, now: opts.Now, logs: make(map[string]*memLog)}, nil
}

// Append records the event; it is visible to Range when Append returns, and
// sid's Notify channels are signalled. See Log.
func (m *Memory) Append(ctx context.Context, sid, typ string, data json.RawMessage, expires time.Time) (Event, error) {
	now := m.now()
	data, err := CheckAppend(sid, typ, data, expires, now)
	if err != nil {
		return Event{}, err
	}
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	m.mu.Lock()
	if now.Sub(m.lastSweep) >= sweepEvery || now.Before(m.lastSweep) {
		m.sweep(now)
	}
	l := m.logs[sid]
	if l == nil || !now.Before(l.expires) { // an expired log starts afresh, as a Redis key does
		l = &memLog{}
		m.logs[sid] = l
	}
	id := ID{Ms: uint64(max(now.UnixMilli(), 0))}
	if id.Compare(l.last) <= 0 {
		id, _ = l.last.Next()
	}
	e := Event{ID: id.String(), Type: typ, Data: data}
	if len(l.events) >= m.maxLen { // trim to maxLen-1, then add: exact
		drop := len(l.events) - m.maxLen + 1
		l.trimmed = l.ids[drop-1]
		clear(l.events[:drop]) // let the dropped payloads be collected
		l.ids, l.events = l.ids[drop:], l.events[drop:]
	}
	l.ids, l.events = append(l.ids, id), append(l.events, e)
	l.last, l.expires = id, expires
	m.mu.Unlock()
	m.waiters.Wake(sid)
	return e, nil
}

// sweep drops the expired logs. m.mu is held.
func (m *Memory) sweep(now time.Time) {
	for sid, l := range m.logs {
		if !now.Before(l.expires) {
			delete(m.logs, sid)
		}
	}
	m.lastSweep = now
}

// Range returns events of sid after afterID. See Log.
func (m *Memory) Range(ctx context.Context, sid, afterID string, limit int) ([]Event, error) {
	after, err := CheckRange(sid, afterID, limit)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	l := m.logs[sid]
	if l == nil || !now.Before(l.expires) {
		return nil, nil
	}
	i := sort.Search(len(l.ids), func(i int) bool { return l.ids[i].Compare(after) > 0 })
	n := min(limit, len(l.ids)-i)
	if n == 0 {
		return nil, nil
	}
	return append([]Event(nil), l.events[i:i+n]...), nil
}

// Gap reports whether resuming after afterID skips events. See Log.
func (m *Memory) Gap(ctx context.Context, sid, afterID string) (bool, string, error) {
	after, err := CheckRange(sid, afterID, 1)
	if err != nil || afterID == "" {
		return false, "", err
	}
	if err := ctx.Err(); err != nil {
		return false, "", err
	}
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	l := m.logs[sid]
	if l == nil || !now.Before(l.expires) || len(l.ids) == 0 {
		return true, "", nil
	}
	oldest := l.ids[0].String()
	i := sort.Search(len(l.ids), func(i int) bool { return l.ids[i].Compare(after) >= 0 })
	held := i < len(l.ids) && l.ids[i] == after
	return !held && after != l.trimmed, oldest, nil
}

// Notify registers wake, called by every Append to sid. See Log.
func (m *Memory) Notify(sid string, wake func()) (cancel func()) {
	return m.waiters.Add(sid, wake)
}

// Sessions returns the number of session logs held, expired ones not swept
// yet included.
func (m *Memory) Sessions() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.logs)
}
