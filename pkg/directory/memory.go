package directory

import (
	"sync"
	"time"
)

// evictionSample is how many remembered answers eviction looks at for an
// expired one before it settles for any. Go starts each map iteration at a
// random place, so this is a random sample, as in Redis's approximated
// eviction: constant work per insert, where a full sweep of a cache full of
// fresh answers would scan every entry on every miss.
const evictionSample = 8

// memory is the HTTP directory's short-term memory: the answers it has had
// recently and the requests it has in flight, under one mutex so that
// "not remembered" and "join the request in flight or start one" is a
// single step. (A small singleflight: golang.org/x/sync is not worth a
// dependency for twenty lines.)
type memory struct {
	mu       sync.Mutex
	max      int
	answers  map[key]answer
	inflight map[key]*call
}

type key struct{ tenant, user string }

type answer struct {
	exists  bool
	expires time.Time
}

// call is one request in flight. exists and err are written once, before
// done is closed, and read only after.
type call struct {
	done   chan struct{}
	exists bool
	err    error
}

func newMemory(limit int) *memory {
	return &memory{max: limit, answers: map[key]answer{}, inflight: map[key]*call{}}
}

// lookup returns the answer for k if one is remembered and still fresh
// (ok). Otherwise it returns the call in flight for k, starting one when
// there is none; lead then tells the caller that it must resolve the call
// with finish.
func (m *memory) lookup(k key, now time.Time) (exists, ok bool, c *call, lead bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a, found := m.answers[k]; found {
		if now.Before(a.expires) {
			return a.exists, true, nil, false
		}
		delete(m.answers, k)
	}
	if c := m.inflight[k]; c != nil {
		return false, false, c, false
	}
	c = &call{done: make(chan struct{})}
	m.inflight[k] = c
	return false, false, c, true
}

// finish records the outcome of c, remembering it until expires unless it
// is an error: an outage must end for everyone the moment it ends, and a
// remembered error would turn a blip into seconds of refusals.
func (m *memory) finish(k key, c *call, exists bool, err error, now, expires time.Time) {
	m.mu.Lock()
	delete(m.inflight, k)
	if err == nil {
		m.remember(k, answer{exists: exists, expires: expires}, now)
	}
	m.mu.Unlock()
	c.exists, c.err = exists, err
	close(c.done)
}

// remember stores a, evicting one answer first when memory is full. Its
// caller holds mu.
func (m *memory) remember(k key, a answer, now time.Time) {
	if _, replacing := m.answers[k]; !replacing && len(m.answers) >= m.max {
		m.evictOne(now)
	}
	m.answers[k] = a
}

// evictOne drops an expired answer among a random few, or else the first
// of them: any answer may go, since losing one only costs a request.
func (m *memory) evictOne(now time.Time) {
	var victim key
	seen := 0
	for k, a := range m.answers {
		if seen == 0 {
			victim = k
		}
		if !now.Before(a.expires) {
			victim = k
			break
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	delete(m.answers, victim)
}
