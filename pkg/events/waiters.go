package events

import "sync"

// Waiters is the set of local wake-up channels of a Log, by session: what
// Notify hands out and what an append (in memory) or a notification (from
// Redis) signals. The zero value is ready to use. Waiters is safe for
// concurrent use.
type Waiters struct {
	mu    sync.Mutex
	bySID map[string]map[chan struct{}]struct{}
	n     int
}

// Add returns a channel signalled by Wake(sid) and WakeAll, and the
// function that removes it; see Log.Notify.
func (w *Waiters) Add(sid string) (wake <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.bySID == nil {
		w.bySID = make(map[string]map[chan struct{}]struct{})
	}
	set := w.bySID[sid]
	if set == nil {
		set = make(map[chan struct{}]struct{}, 1)
		w.bySID[sid] = set
	}
	set[ch] = struct{}{}
	w.n++
	w.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			set := w.bySID[sid]
			delete(set, ch)
			if len(set) == 0 {
				delete(w.bySID, sid)
			}
			w.n--
		})
	}
}

// Wake signals every channel of sid. It never blocks: a channel that
// already holds a signal keeps that one (wake-ups coalesce).
func (w *Waiters) Wake(sid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.bySID[sid] {
		signal(ch)
	}
}

// WakeAll signals every channel: after notifications may have been lost
// (a re-established subscription), every follower reads again.
func (w *Waiters) WakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, set := range w.bySID {
		for ch := range set {
			signal(ch)
		}
	}
}

// Len returns the number of channels not cancelled yet.
func (w *Waiters) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
