package eventstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
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

// WaitFor waits (within Wait) until the follower delivered at least n
// events, and returns what it delivered.
func (f *Follower) WaitFor(t testing.TB, n int) []events.Event {
	t.Helper()
	Eventually(t, fmt.Sprintf("%d events delivered", n), func() bool {
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
	Eventually(t, "the stream returns once cancelled", func() bool {
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

func testFollowLive(t *testing.T, e env) {
	sid := SID(t)
	h := NewHub(t, e.log)
	backlog := appendN(t, e, sid, 3)
	f := StartFollow(t, h, sid, "")
	sameEvents(t, "the backlog", f.WaitFor(t, 3), backlog)
	appendN(t, e, sid, 3)
	all := rangeAll(t, e.log, sid, "")
	sameEvents(t, "backlog and live", f.WaitFor(t, 6), all)
	if err := f.Stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow returned %v once cancelled; want context.Canceled", err)
	}
	sameEvents(t, "nothing more", f.Events(), all)
}

func testFollowResume(t *testing.T, e env) {
	sid := SID(t)
	h := NewHub(t, e.log)
	all := appendN(t, e, sid, 8)
	for _, after := range []string{"", all[0].ID, all[3].ID, all[6].ID, all[7].ID} {
		t.Run("after "+after, func(t *testing.T) {
			want := rangeAll(t, e.log, sid, after) // grows with each subtest's live event
			f := StartFollow(t, h, sid, after)
			sameEvents(t, "the rest", f.WaitFor(t, len(want)), want)
			want = append(want, appendN(t, e, sid, 1)...)
			sameEvents(t, "the rest and a live one", f.WaitFor(t, len(want)), want)
			if err := f.Stop(t); !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			sameEvents(t, "nothing repeated", f.Events(), want)
		})
	}
}

// testFollowTrimmed: a resume after a trimmed id starts with a
// stream.reset naming the oldest id held, then the whole log as held; a
// resume after the last trimmed id, or a held one, misses nothing and
// says nothing.
func testFollowTrimmed(t *testing.T, e env) {
	sid := SID(t)
	h := NewHub(t, e.log)
	all := appendN(t, e, sid, 12) // the cap is 5: 7..11 held, 6 the last trimmed
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
		sameEvents(t, "after "+tc.after, f.WaitFor(t, len(tc.want)), tc.want)
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		sameEvents(t, "after "+tc.after+", nothing more", f.Events(), tc.want)
	}
}

func testFollowMany(t *testing.T, e env) {
	sid := SID(t)
	h := NewHub(t, e.log)
	appendN(t, e, sid, 5)
	fs := []*Follower{StartFollow(t, h, sid, ""), StartFollow(t, h, sid, ""), StartFollow(t, h, sid, "")}
	appendN(t, e, sid, 5)
	all := rangeAll(t, e.log, sid, "")
	for i, f := range fs {
		sameEvents(t, fmt.Sprintf("follower %d", i), f.WaitFor(t, 10), all)
	}
	for i, f := range fs {
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		sameEvents(t, fmt.Sprintf("follower %d, nothing more", i), f.Events(), all)
	}
}

// testFollowConcurrent appends from two goroutines while two followers
// follow: both see the log's one order, in which each writer's events keep
// the order it appended them in.
func testFollowConcurrent(t *testing.T, e env) {
	const writers, each = 2, 100
	sid := SID(t)
	h := NewHub(t, e.log)
	fs := []*Follower{StartFollow(t, h, sid, ""), StartFollow(t, h, sid, "")}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				data, _ := json.Marshal(map[string]int{"w": w, "i": i})
				if _, err := e.log.Append(context.Background(), sid, events.ResponseDelta, data, e.exp); err != nil {
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
	all := rangeAll(t, e.log, sid, "")
	if len(all) != writers*each {
		t.Fatalf("the log holds %d events; want %d", len(all), writers*each)
	}
	increasing(t, all)
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
		sameEvents(t, fmt.Sprintf("follower %d", i), f.WaitFor(t, len(all)), all)
	}
}

func testFollowErrors(t *testing.T, e env) {
	sid := SID(t)
	h := NewHub(t, e.log)
	appendN(t, e, sid, 3)
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

// testGap: what Gap says of each place a stream may resume from.
func testGap(t *testing.T, e env) {
	sid := SID(t)
	all := appendN(t, e, sid, 12) // the cap is 5: 7..11 held, 6 the last trimmed
	future := all[11].ID[:len(all[11].ID)-1] + "9"
	for _, tc := range []struct {
		name, after string
		gap         bool
	}{
		{"from the start", "", false},
		{"after a held id", all[8].ID, false},
		{"after the newest", all[11].ID, false},
		{"after the last trimmed id", all[6].ID, false},
		{"after an older trimmed id", all[2].ID, true},
		{"after an id the log never held", future, true},
	} {
		gap, oldest, err := e.log.Gap(t.Context(), sid, tc.after)
		if err != nil || gap != tc.gap || (tc.after != "" && oldest != all[7].ID) {
			t.Errorf("%s: Gap = %v, %q, %v; want %v, %q", tc.name, gap, oldest, err, tc.gap, all[7].ID)
		}
	}
	if gap, oldest, err := e.log.Gap(t.Context(), SID(t), all[8].ID); err != nil || !gap || oldest != "" {
		t.Errorf("a log that is gone: Gap = %v, %q, %v; want a gap and no oldest id", gap, oldest, err)
	}
}
