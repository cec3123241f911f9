package events

import "sync"

// Waiters is the set of wake-up functions of a Log, by session: what Notify
// registers and what an append (in memory) or a notification (from Redis)
// calls. The zero value is ready to use. Waiters is safe for concurrent
// use.
type Waiters struct {
	mu    sync.Mutex
	bySID map[string]map[*waiter]struct{}
	n     int
}

type waiter struct{ wake func() }

// Add registers wake, called by Wake(sid) and WakeAll, and returns the
// function that removes it; see Log.Notify.
func (w *Waiters) Add(sid string, wake func()) (cancel func()) {
	wt := &waiter{wake: wake}
	w.mu.Lock()
	if w.bySID == nil {
		w.bySID = make(map[string]map[*waiter]struct{})
	}
	set := w.bySID[sid]
	if set == nil {
		set = make(map[*waiter]struct{}, 1)
		w.bySID[sid] = set
	}
	set[wt] = struct{}{}
	w.n++
	w.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			set := w.bySID[sid]
			delete(set, wt)
			if len(set) == 0 {
				delete(w.bySID, sid)
			}
			w.n--
		})
	}
}

// Wake calls every function registered for sid. The functions must not
// block (see Log.Notify); they are called without the lock held, so they
// may register and cancel.
func (w *Waiters) Wake(sid string) {
	w.mu.Lock()
	set := w.bySID[sid]
	fns := make([]func(), 0, len(set))
	for wt := range set {
		fns = append(fns, wt.wake)
	}
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// WakeAll calls every function: after notifications may have been lost (a
// re-established subscription), every follower reads again.
func (w *Waiters) WakeAll() {
	w.mu.Lock()
	fns := make([]func(), 0, w.n)
	for _, set := range w.bySID {
		for wt := range set {
			fns = append(fns, wt.wake)
		}
	}
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// Len returns the number of functions not cancelled yet.
func (w *Waiters) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}
