package ratelimit

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys bounds a Memory limiter.
const DefaultMaxKeys = 100000

// evictionSample is how many windows eviction looks at for an ended one
// before it settles for the oldest of them. Go starts each map iteration at
// a random place, so this is a random sample: constant work per new key.
const evictionSample = 8

// Memory is the limiter of the embedded default: one process, one window
// per key. It counts at most DefaultMaxKeys keys; a new key past that
// evicts an ended window among a few sampled, or else the oldest of them,
// which resets that key's count (the limit then errs on the side of
// letting messages through). It is safe for concurrent use.
type Memory struct {
	n      int
	window time.Duration
	now    func() time.Time
	max    int

	mu      sync.Mutex
	windows map[string]fixedWindow
}

type fixedWindow struct {
	start time.Time
	count int
}

// NewMemory returns a limiter of n events per window per key, reading the
// time from now (nil means time.Now).
func NewMemory(n int, window time.Duration, now func() time.Time) (*Memory, error) {
	if err := CheckRule(n, window); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Memory{n: n, window: window, now: now, max: DefaultMaxKeys, windows: map[string]fixedWindow{}}, nil
}

// Allow records an event of key. It never fails.
func (m *Memory) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.windows[key]
	if !ok || !now.Before(w.start.Add(m.window)) {
		if !ok && len(m.windows) >= m.max {
			m.evictOne(now)
		}
		m.windows[key] = fixedWindow{start: now, count: 1}
		return true, 0, nil
	}
	if w.count >= m.n {
		return false, w.start.Add(m.window).Sub(now), nil
	}
	w.count++
	m.windows[key] = w
	return true, 0, nil
}

// Len returns the number of keys counted, ended windows included until
// they are noticed.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.windows)
}

// evictOne drops an ended window among a random few, or else the oldest of
// them. Its caller holds mu.
func (m *Memory) evictOne(now time.Time) {
	var victim string
	var oldest time.Time
	seen := 0
	for k, w := range m.windows {
		if !now.Before(w.start.Add(m.window)) {
			victim = k
			break
		}
		if seen == 0 || w.start.Before(oldest) {
			victim, oldest = k, w.start
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	delete(m.windows, victim)
}
