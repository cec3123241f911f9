// Package streamtest is the stream test kit: a stream.Hub over a log, read
// by a Follower that records what it delivers (the widget's stream without
// HTTP), and RunFollow, the contract every events.Log meets when followed
// through a Hub. The in-memory log and the Redis adapter both run it.
package streamtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// Follower is a stream of a stream.Hub, read in a goroutine that records
// what it delivers: the widget's stream without HTTP.
type Follower struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
	end    *stream.End

	mu  sync.Mutex
	got []events.Event
}

// NewHub returns a stream hub over l, with no revocation and room for 100
// streams of a session, closed when the test ends.
func NewHub(t testing.TB, l events.Log) *stream.Hub {
	t.Helper()
	h, err := stream.NewHub(l, revoke.NewMemory(time.Now, revoke.Limits{}), stream.Config{MaxPerSession: 100, MaxPerClient: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// Claims returns claims of session sid, valid for an hour.
func Claims(sid string) *token.Claims {
	now := time.Now()
	return &token.Claims{Tenant: "acme", Subject: "u1", SessionID: sid, ID: sid, IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix()}
}

// Follow opens a stream of sid after afterID on h and delivers its events
// until ctx ends (it returns ctx's error) or the stream does (an error
// naming its end).
func Follow(ctx context.Context, h *stream.Hub, sid, afterID string, deliver func(events.Event)) error {
	st, err := h.Open(ctx, stream.Request{Claims: Claims(sid), After: afterID, Client: "test"})
	if err != nil {
		return err
	}
	defer st.Close()
	for {
		b, err := st.Next(ctx)
		if err != nil {
			return err
		}
		for _, e := range b.Events {
			deliver(e)
		}
		if b.End != nil {
			return fmt.Errorf("the stream ended: %s", b.End.Code)
		}
		if b.Reconnect > 0 {
			return errors.New("the stream was drained")
		}
	}
}

// StartFollow opens a stream of sid after afterID on h and reads it; the
// stream is closed when the test ends.
func StartFollow(t testing.TB, h *stream.Hub, sid, afterID string) *Follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{cancel: cancel, done: make(chan struct{})}
	st, err := h.Open(ctx, stream.Request{Claims: Claims(sid), After: afterID, Client: "test"})
	if err != nil {
		cancel()
		f.err = err
		close(f.done)
		return f
	}
	go func() {
		defer close(f.done)
		defer st.Close()
		for {
			b, err := st.Next(ctx)
			if err != nil {
				f.err = err
				return
			}
			f.mu.Lock()
			f.got = append(f.got, b.Events...)
			f.mu.Unlock()
			if b.End != nil || b.Reconnect > 0 {
				f.end = b.End
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	return f
}

// Events returns what the follower delivered so far.
func (f *Follower) Events() []events.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]events.Event(nil), f.got...)
}

// WaitFor waits (within eventstest.Wait) until the follower delivered at least n
// events, and returns what it delivered.
func (f *Follower) WaitFor(t testing.TB, n int) []events.Event {
	t.Helper()
	wait.For(t, fmt.Sprintf("%d events delivered", n), func() bool {
		select {
		case <-f.done:
			t.Fatalf("the stream ended early: %v %v", f.err, f.end)
		default:
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.got) >= n
	})
	return f.Events()
}

// Stop cancels the follower and returns what ended it.
func (f *Follower) Stop(t testing.TB) error {
	t.Helper()
	f.cancel()
	wait.For(t, "the stream returns once cancelled", func() bool {
		select {
		case <-f.done:
			return true
		default:
			return false
		}
	})
	return f.err
}

// Done reports whether the stream has ended, and with what: its End, or
// the error that ended it (ctx's, or the one Open returned).
func (f *Follower) Done() (done bool, end *stream.End, err error) {
	select {
	case <-f.done:
		return true, f.end, f.err
	default:
		return false, nil, nil
	}
}

// RunFollow checks that the logs newLog returns (as eventstest.Run builds
// them) deliver, through a stream.Hub, what a widget's stream must.
func RunFollow(t *testing.T, newLog func(t *testing.T, opts eventstest.Options) events.Log) {
	t.Helper()
	cases := []struct {
		name   string
		maxLen int
		run    func(t *testing.T, e eventstest.Env)
	}{
		{"follow: backlog, then live", 50, testFollowLive},
		{"follow: resume after any id", 50, testFollowResume},
		{"follow: from a trimmed id", 5, testFollowTrimmed},
		{"follow: every follower sees everything", 50, testFollowMany},
		{"follow: concurrent appenders, one order", 500, testFollowConcurrent},
		{"follow: errors", 50, testFollowErrors},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := eventstest.NewClock(time.Now())
			tc.run(t, eventstest.NewEnv(newLog(t, eventstest.Options{MaxLen: tc.maxLen, Now: clk.Now}), clk))
		})
	}
}

func testFollowLive(t *testing.T, e eventstest.Env) {
	sid := eventstest.SID(t)
	h := NewHub(t, e.Log)
	backlog := eventstest.AppendN(t, e, sid, 3)
	f := StartFollow(t, h, sid, "")
	eventstest.SameEvents(t, "the backlog", f.WaitFor(t, 3), backlog)
	eventstest.AppendN(t, e, sid, 3)
	all := eventstest.RangeAll(t, e.Log, sid, "")
	eventstest.SameEvents(t, "backlog and live", f.WaitFor(t, 6), all)
	if err := f.Stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v once cancelled; want context.Canceled", err)
	}
	eventstest.SameEvents(t, "nothing more", f.Events(), all)
}

func testFollowResume(t *testing.T, e eventstest.Env) {
	sid := eventstest.SID(t)
	h := NewHub(t, e.Log)
	all := eventstest.AppendN(t, e, sid, 8)
	for _, after := range []string{"", all[0].ID, all[3].ID, all[6].ID, all[7].ID} {
		t.Run("after "+after, func(t *testing.T) {
			want := eventstest.RangeAll(t, e.Log, sid, after) // grows with each subtest's live event
			f := StartFollow(t, h, sid, after)
			eventstest.SameEvents(t, "the rest", f.WaitFor(t, len(want)), want)
			want = append(want, eventstest.AppendN(t, e, sid, 1)...)
			eventstest.SameEvents(t, "the rest and a live one", f.WaitFor(t, len(want)), want)
			if err := f.Stop(t); !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			eventstest.SameEvents(t, "nothing repeated", f.Events(), want)
		})
	}
}

// testFollowTrimmed: a resume after a trimmed id starts with a
// stream.reset naming the oldest id held, then the whole log as held; a
// resume after the last trimmed id, or a held one, misses nothing and
// says nothing.
func testFollowTrimmed(t *testing.T, e eventstest.Env) {
	sid := eventstest.SID(t)
	h := NewHub(t, e.Log)
	all := eventstest.AppendN(t, e, sid, 12) // the cap is 5: 7..11 held, 6 the last trimmed
	reset := events.Event{Type: events.StreamReset, Data: json.RawMessage(`{"oldestId":"` + all[7].ID + `"}`)}
	for _, tc := range []struct {
		after string
		want  []events.Event
	}{
		{all[1].ID, append([]events.Event{reset}, all[7:]...)},
		{all[6].ID, all[7:]},
		{all[9].ID, all[10:]},
	} {
		f := StartFollow(t, h, sid, tc.after)
		eventstest.SameEvents(t, "after "+tc.after, f.WaitFor(t, len(tc.want)), tc.want)
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		eventstest.SameEvents(t, "after "+tc.after+", nothing more", f.Events(), tc.want)
	}
}

func testFollowMany(t *testing.T, e eventstest.Env) {
	sid := eventstest.SID(t)
	h := NewHub(t, e.Log)
	eventstest.AppendN(t, e, sid, 5)
	fs := []*Follower{StartFollow(t, h, sid, ""), StartFollow(t, h, sid, ""), StartFollow(t, h, sid, "")}
	eventstest.AppendN(t, e, sid, 5)
	all := eventstest.RangeAll(t, e.Log, sid, "")
	for i, f := range fs {
		eventstest.SameEvents(t, fmt.Sprintf("follower %d", i), f.WaitFor(t, 10), all)
	}
	for i, f := range fs {
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		eventstest.SameEvents(t, fmt.Sprintf("follower %d, nothing more", i), f.Events(), all)
	}
}

// testFollowConcurrent appends from two goroutines while two followers
// follow: both see the log's one order, in which each writer's events keep
// the order it appended them in.
func testFollowConcurrent(t *testing.T, e eventstest.Env) {
	const writers, each = 2, 100
	sid := eventstest.SID(t)
	h := NewHub(t, e.Log)
	fs := []*Follower{StartFollow(t, h, sid, ""), StartFollow(t, h, sid, "")}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				data, _ := json.Marshal(map[string]int{"w": w, "i": i})
				if _, err := e.Log.Append(context.Background(), sid, events.ResponseDelta, data, e.Exp); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := eventstest.RangeAll(t, e.Log, sid, "")
	if len(all) != writers*each {
		t.Fatalf("the log holds %d events; want %d", len(all), writers*each)
	}
	eventstest.Increasing(t, all)
	next := make([]int, writers)
	for _, ev := range all {
		var p struct{ W, I int }
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			t.Fatal(err)
		}
		if p.I != next[p.W] {
			t.Fatalf("writer %d: event %d where %d was due", p.W, p.I, next[p.W])
		}
		next[p.W]++
	}
	for i, f := range fs {
		eventstest.SameEvents(t, fmt.Sprintf("follower %d", i), f.WaitFor(t, len(all)), all)
	}
}

func testFollowErrors(t *testing.T, e eventstest.Env) {
	sid := eventstest.SID(t)
	h := NewHub(t, e.Log)
	eventstest.AppendN(t, e, sid, 3)
	for _, tc := range []struct {
		name  string
		sid   string
		after string
		want  error
	}{
		{"invalid session", "wsess_nope", "", events.ErrInvalidSession},
		{"invalid last event id", sid, "12", events.ErrInvalidID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := StartFollow(t, h, tc.sid, tc.after)
			if done, _, err := f.Done(); !done || !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v; want %v", err, tc.want)
			}
		})
	}
	if n := h.Streams(); n != 0 {
		t.Fatalf("%d streams open after refused opens", n)
	}
}
