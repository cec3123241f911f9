package stream

import (
	"context"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// Reconnect is how soon a client of a draining replica is asked to
// reconnect (to another replica, resuming where it was).
const Reconnect = 250 * time.Millisecond

// Stream is one open stream of a session. Its methods are for one
// goroutine (the one serving the client); the Hub talks to it through its
// signal.
type Stream struct {
	hub    *Hub
	f      *follower
	claims *token.Claims
	client string
	signal chan struct{} // capacity one: something to look at

	mu     sync.Mutex // guards what the Hub sets
	ended  *End
	drain  bool
	ping   bool
	more   bool          // the log may hold events after cursor
	reset  *events.Event // the first thing to send, when set
	cursor string        // the id of the last event sent ("": none)

	probe     func() bool // nil: always alive
	forgotten bool        // released; guarded by hub.mu
	closeOnce sync.Once
}

// SetProbe tells the Hub how to check, without blocking, that the
// stream's client is still there. A stream whose writes are its only way
// to notice a departed client (nothing reads its connection) sets one: the
// Hub probes a session's or a client's streams before refusing one more
// past a bound, and ends those whose client left.
func (s *Stream) SetProbe(alive func() bool) {
	s.mu.Lock()
	s.probe = alive
	s.mu.Unlock()
}

// gone reports whether the stream's probe says its client left.
func (s *Stream) gone() bool {
	s.mu.Lock()
	p := s.probe
	s.mu.Unlock()
	return p != nil && !p()
}

// Batch is what a stream has to send next, in this order: Events, then a
// heartbeat (Ping), then its end. When End is set, the stream is over:
// the End goes as the final error event; when Reconnect is set instead,
// the client is asked to reconnect that soon.
type Batch struct {
	Events    []events.Event
	Ping      bool
	End       *End
	Reconnect time.Duration
}

// Claims returns the session's claims.
func (s *Stream) Claims() *token.Claims { return s.claims }

// Next waits until the stream has something to send and returns it. It
// returns ctx's error when ctx ends first. After a Batch with End or
// Reconnect, the stream is over: close it.
func (s *Stream) Next(ctx context.Context) (Batch, error) {
	for {
		s.mu.Lock()
		ended, drain, ping, more, reset, cursor := s.ended, s.drain, s.ping, s.more, s.reset, s.cursor
		s.ping, s.more, s.reset = false, false, nil
		s.mu.Unlock()
		switch {
		case ended != nil:
			return Batch{End: ended}, nil
		case drain:
			return Batch{Reconnect: Reconnect}, nil
		case reset != nil:
			s.setMore() // the log from the start follows
			return Batch{Events: []events.Event{*reset}, Ping: ping}, nil
		}
		if more {
			evs, full, err := s.f.after(ctx, cursor)
			if err != nil {
				if ctx.Err() != nil {
					return Batch{}, ctx.Err()
				}
				if end := s.f.readFailed(err); end != nil {
					return Batch{End: end}, nil
				}
			}
			if full {
				s.setMore()
			}
			if len(evs) > 0 {
				s.mu.Lock()
				if last := evs[len(evs)-1]; last.Type == events.StreamReset {
					s.cursor = ""
				} else {
					s.cursor = last.ID
				}
				s.mu.Unlock()
				s.f.taken()
				return Batch{Events: evs, Ping: ping}, nil
			}
		}
		if ping {
			return Batch{Ping: true}, nil
		}
		select {
		case <-s.signal:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
}

// Close releases the stream's place. It may be called more than once.
func (s *Stream) Close() {
	s.closeOnce.Do(func() {
		s.hub.release(s)
		if onClose := s.hub.cfg.OnClose; onClose != nil {
			s.mu.Lock()
			reason := "closed"
			switch {
			case s.ended != nil:
				reason = s.ended.Code
			case s.drain:
				reason = "drained"
			}
			s.mu.Unlock()
			onClose(reason)
		}
	})
}

func (s *Stream) setMore() {
	s.mu.Lock()
	s.more = true
	s.mu.Unlock()
	s.signalNow()
}

// setEnd ends the stream with e, unless it already ended. s.mu is held.
func (s *Stream) setEnd(e *End) {
	if s.ended == nil {
		s.ended = e
	}
}

// end ends the stream with e and signals it.
func (s *Stream) end(e *End) {
	s.mu.Lock()
	s.setEnd(e)
	s.mu.Unlock()
	s.signalNow()
}

func (s *Stream) signalNow() {
	select {
	case s.signal <- struct{}{}:
	default:
	}
}
