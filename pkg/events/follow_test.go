package events_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/events"
	"github.com/causeflow/widget-sessions/pkg/events/eventstest"
)

// fakeLog wraps a real log: its reads can fail, and its notifications can
// be lost.
type fakeLog struct {
	events.Log
	rangeErr func(call int64) error // non-nil: the error of that Range call (1-based)
	deaf     bool                   // Notify never signals
	ranges   atomic.Int64
}

func (f *fakeLog) Range(ctx context.Context, sid, after string, limit int) ([]events.Event, error) {
	n := f.ranges.Add(1)
	if f.rangeErr != nil {
		if err := f.rangeErr(n); err != nil {
			return nil, err
		}
	}
	return f.Log.Range(ctx, sid, after, limit)
}

func (f *fakeLog) Notify(sid string) (<-chan struct{}, func()) {
	if f.deaf {
		return make(chan struct{}), func() {}
	}
	return f.Log.Notify(sid)
}

func appendN(t *testing.T, l events.Log, sid string, from, n int) []events.Event {
	t.Helper()
	var out []events.Event
	for i := from; i < from+n; i++ {
		e, err := l.Append(context.Background(), sid, events.ResponseDelta, eventstest.Payload(i), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func sameIDs(t *testing.T, got, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events; want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d: %s; want %s", i, got[i].ID, want[i].ID)
		}
	}
}

func TestFollow(t *testing.T) {
	errBoom := errors.New("boom")
	cases := []struct {
		name     string
		log      func(m *events.Memory) *fakeLog
		backlog  int // appended before Follow starts
		live     int // appended once the backlog is delivered
		poll     time.Duration
		wantErr  error // Follow returns this (on its own) instead of delivering
		minReads int64 // Range calls at least
	}{
		{"a backlog of several pages", func(m *events.Memory) *fakeLog { return &fakeLog{Log: m} }, 600, 3, eventstest.FollowPoll, nil, 3},
		{"unavailable reads are retried", func(m *events.Memory) *fakeLog {
			return &fakeLog{Log: m, rangeErr: func(n int64) error {
				if n <= 3 {
					return errors.Join(events.ErrUnavailable, errors.New("connection refused"))
				}
				return nil
			}}
		}, 5, 2, 5 * time.Millisecond, nil, 4},
		{"lost notifications: the poll delivers", func(m *events.Memory) *fakeLog { return &fakeLog{Log: m, deaf: true} }, 2, 3, 10 * time.Millisecond, nil, 2},
		{"another read error is returned", func(m *events.Memory) *fakeLog {
			return &fakeLog{Log: m, rangeErr: func(int64) error { return errBoom }}
		}, 2, 0, eventstest.FollowPoll, errBoom, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.log(newMemory(t, events.MemoryOptions{}))
			sid := eventstest.SID(t)
			backlog := appendN(t, l, sid, 0, tc.backlog)
			if tc.wantErr != nil {
				done := make(chan error, 1)
				go func() {
					done <- events.Follow(context.Background(), l, sid, "", tc.poll, func(events.Event) error { return nil })
				}()
				select {
				case err := <-done:
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Follow = %v; want %v", err, tc.wantErr)
					}
				case <-time.After(eventstest.Wait):
					t.Fatal("Follow did not return")
				}
				return
			}
			f := eventstest.StartFollow(t, l, sid, "", tc.poll)
			sameIDs(t, f.WaitFor(t, tc.backlog), backlog)
			all := append(backlog, appendN(t, l, sid, tc.backlog, tc.live)...)
			sameIDs(t, f.WaitFor(t, len(all)), all)
			if err := f.Stop(t); !errors.Is(err, context.Canceled) {
				t.Fatalf("Follow = %v once cancelled; want context.Canceled", err)
			}
			sameIDs(t, f.Events(), all)
			if n := l.ranges.Load(); n < tc.minReads {
				t.Fatalf("%d reads; want at least %d", n, tc.minReads)
			}
		})
	}
}

// TestFollowCancelled: a context already done returns at once, delivering
// nothing.
func TestFollowCancelled(t *testing.T) {
	m := newMemory(t, events.MemoryOptions{})
	sid := eventstest.SID(t)
	appendN(t, m, sid, 0, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	delivered := 0
	err := events.Follow(ctx, m, sid, "", 0, func(events.Event) error { delivered++; return nil })
	if !errors.Is(err, context.Canceled) || delivered != 0 {
		t.Fatalf("Follow = %v after %d deliveries; want context.Canceled after 0", err, delivered)
	}
}

func TestWaiters(t *testing.T) {
	var w events.Waiters
	a1, cancelA1 := w.Add("a")
	a2, cancelA2 := w.Add("a")
	b, cancelB := w.Add("b")
	defer cancelA2()
	defer cancelB()
	pending := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name       string
		do         func()
		a1, a2, bb bool // pending afterwards
	}{
		{"nothing yet", func() {}, false, false, false},
		{"wake a twice", func() { w.Wake("a"); w.Wake("a") }, true, true, false},
		{"wake an unknown session", func() { w.Wake("c") }, false, false, false},
		{"wake all", w.WakeAll, true, true, true},
		{"cancel a1, wake a", func() { cancelA1(); cancelA1(); w.Wake("a") }, false, true, false},
	}
	for _, st := range steps {
		st.do()
		if got := [3]bool{pending(a1), pending(a2), pending(b)}; got != [3]bool{st.a1, st.a2, st.bb} {
			t.Fatalf("%s: pending a1, a2, b = %v; want %v", st.name, got, [3]bool{st.a1, st.a2, st.bb})
		}
	}
	if n := w.Len(); n != 2 {
		t.Fatalf("Len = %d; want 2", n)
	}
}
