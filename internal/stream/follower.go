package stream

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// page is how many events one read of the log asks for.
const page = 256

// maxHeld bounds the events a follower keeps for its streams: a stream
// further behind (a client reading slowly) reads the log itself.
const maxHeld = 512

// follower reads one session's log for all of its streams on this replica.
//
// It holds the events of the log in (base, last]: every one its streams
// have not all taken yet. A wake-up (the log's notification) bumps gen;
// the first stream to ask after one reads the log from last, once, for
// everybody.
type follower struct {
	hub          *Hub
	sid          string
	claims       *token.Claims
	cancelNotify func()
	heapIndex    int // in the Hub's expiry heap; -1 when not in it

	streams map[*Stream]struct{} // guarded by hub.mu

	gen atomic.Uint64 // wake-ups so far

	mu      sync.Mutex // guards what follows, and serialises reads
	readGen uint64     // gen when the log was last read to its end
	base    events.ID  // held: the events after base ...
	last    events.ID  // ... up to last
	held    []events.Event
	heldIDs []events.ID
}

func newFollower(h *Hub, c *token.Claims, from string) *follower {
	f := &follower{hub: h, sid: c.SessionID, claims: c, heapIndex: -1, streams: map[*Stream]struct{}{}}
	f.base, _ = events.ParseID(from) // "" is the zero id, before every event
	f.last = f.base
	f.gen.Store(1) // nothing read yet
	return f
}

// count returns the number of streams. hub.mu is held.
func (f *follower) count() int { return len(f.streams) }

// add adds s. hub.mu is held.
func (f *follower) add(s *Stream) { f.streams[s] = struct{}{} }

// remove removes s and returns how many streams are left. hub.mu is held.
func (f *follower) remove(s *Stream) int {
	delete(f.streams, s)
	return len(f.streams)
}

// tellAll sets something on every stream (under its lock) and signals it.
// hub.mu is held.
func (f *follower) tellAll(set func(*Stream)) {
	for s := range f.streams {
		s.mu.Lock()
		set(s)
		s.mu.Unlock()
		s.signalNow()
	}
}

// wake is the log's notification: the session may have new events.
func (f *follower) wake() {
	f.gen.Add(1)
	h := f.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	f.tellAll(func(s *Stream) { s.more = true })
}

// after returns the events following cursor ("" or an event id), at most
// a page: from what the follower holds, reading the log once for all its
// streams when it was woken since its last read; or, for a stream behind
// what it holds, from the log directly. A gap (the log no longer holds
// what followed cursor) returns a reset event and then reads on from the
// start. full tells that more may follow at once.
func (f *follower) after(ctx context.Context, cursor string) (evs []events.Event, full bool, err error) {
	cur, _ := events.ParseID(cursor)
	evs, full, behind, err := f.fromHeld(ctx, cur)
	if behind {
		return f.direct(ctx, cursor)
	}
	return evs, full, err
}

// fromHeld serves cur from the events held, reading the log first when
// woken since the last read. behind tells that cur is before them.
func (f *follower) fromHeld(ctx context.Context, cur events.ID) (evs []events.Event, full, behind bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur.Compare(f.base) < 0 {
		return nil, false, true, nil
	}
	if g := f.gen.Load(); g != f.readGen {
		for {
			got, err := f.hub.log.Range(ctx, f.sid, idString(f.last), page)
			if err != nil {
				return nil, false, false, err
			}
			for _, e := range got {
				id, err := events.ParseID(e.ID)
				if err != nil {
					return nil, false, false, err
				}
				f.held, f.heldIDs = append(f.held, e), append(f.heldIDs, id)
				f.last = id
			}
			if len(f.held) > maxHeld {
				f.dropThrough(len(f.held) - maxHeld - 1)
			}
			if len(got) < page {
				break
			}
		}
		f.readGen = g
	}
	if cur.Compare(f.base) < 0 { // dropped past it while reading
		return nil, false, true, nil
	}
	i := search(f.heldIDs, cur)
	n := min(len(f.held)-i, page)
	return append([]events.Event(nil), f.held[i:i+n]...), len(f.held)-i > page, false, nil
}

// direct reads the page after cursor from the log, for a stream behind
// what the follower holds. It checks the log still holds what followed
// cursor, as a resume does.
func (f *follower) direct(ctx context.Context, cursor string) ([]events.Event, bool, error) {
	if cursor != "" {
		gap, oldest, err := f.hub.log.Gap(ctx, f.sid, cursor)
		if err != nil {
			return nil, false, err
		}
		if gap {
			return []events.Event{resetEvent(oldest)}, true, nil
		}
	}
	got, err := f.hub.log.Range(ctx, f.sid, cursor, page)
	return got, len(got) == page, err
}

// taken drops what every stream has taken. hub.mu is not held.
func (f *follower) taken() {
	h := f.hub
	h.mu.Lock()
	var least events.ID
	first := true
	for s := range f.streams {
		s.mu.Lock()
		c, _ := events.ParseID(s.cursor)
		if s.reset != nil {
			c = events.ID{}
		}
		s.mu.Unlock()
		if first || c.Compare(least) < 0 {
			least, first = c, false
		}
	}
	h.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := search(f.heldIDs, least); i > 0 {
		f.dropThrough(i - 1)
	}
}

// dropThrough forgets held events 0..i. f.mu is held.
func (f *follower) dropThrough(i int) {
	f.base = f.heldIDs[i]
	n := copy(f.held, f.held[i+1:])
	clear(f.held[n:])
	f.held = f.held[:n]
	f.heldIDs = f.heldIDs[:copy(f.heldIDs, f.heldIDs[i+1:])]
	if n == 0 { // give the memory back while the session idles
		f.held, f.heldIDs = nil, nil
	}
}

// search returns the index of the first id after cur.
func search(ids []events.ID, cur events.ID) int {
	lo, hi := 0, len(ids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ids[m].Compare(cur) <= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// idString is the cursor of an id: "" for the zero id (from the start).
func idString(id events.ID) string {
	if id == (events.ID{}) {
		return ""
	}
	return id.String()
}

// resetEvent is the StreamReset event that starts a stream whose resume
// would skip events the log no longer holds.
func resetEvent(oldest string) events.Event {
	data, _ := json.Marshal(struct {
		OldestID string `json:"oldestId"`
	}{oldest})
	return events.Event{Type: events.StreamReset, Data: data}
}

// readFailed decides what a failed read means for a stream: an
// unavailable log is retried on the next liveness tick (the stream waits,
// heartbeats going on), anything else ends the stream.
func (f *follower) readFailed(err error) *End {
	if errors.Is(err, events.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		f.hub.failed(f)
		return nil
	}
	f.hub.cfg.Logger.Error("the event log cannot be followed; ending the stream", zap.String("session", f.sid), zap.Error(err))
	return endInterrupt
}
