// Package eventstest holds the contract every events.Log must meet. The
// in-memory log and the Redis adapter both run it, so the embedded default
// and production cannot drift apart.
//
// Waits are bounded (Wait) and nothing asserts how fast something happens:
// the suite runs under -race on busy CI machines.
package eventstest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
)

// Wait bounds every wait of the suite for something that should happen.
const Wait = 5 * time.Second

// Options is how the suite wants a log built.
type Options struct {
	// MaxLen is the cap of each session's log; always positive.
	MaxLen int
	// Now is the clock of a log that can take one (the in-memory log). A
	// log that reads the real clock (Redis) ignores it: the suite's clock
	// starts at the real time and only moves forward, and it waits (within
	// Wait) for what the real clock decides.
	Now func() time.Time
}

// Clock is a settable clock for tests. Make one with NewClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d, which may be negative.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is what each case gets: the log, its clock and the session expiry
// to append with. Other contract suites over a log (streamtest's) take it
// too.
type Env struct {
	Log   events.Log
	Clock *Clock
	Exp   time.Time
}

// Run checks that the logs newLog returns behave as an events.Log must.
// newLog is called once per case; the log starts empty and is ready
// (started) when newLog returns, and is the caller's to close (t.Cleanup).
func Run(t *testing.T, newLog func(t *testing.T, opts Options) events.Log) {
	t.Helper()
	cases := []struct {
		name   string
		maxLen int
		run    func(t *testing.T, e Env)
	}{
		{"append then range: order, ids, payloads", 50, testOrder},
		{"afterID is exclusive", 50, testAfter},
		{"limit", 50, testLimit},
		{"the cap trims the oldest", 5, testCap},
		{"the log expires with the session", 50, testExpiry},
		{"sessions are independent", 50, testIndependent},
		{"invalid arguments are refused", 50, testInvalid},
		{"notify wakes and coalesces", 50, testNotify},
		{"gap: what a resume would miss", 5, testGap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := NewClock(time.Now())
			l := newLog(t, Options{MaxLen: tc.maxLen, Now: clk.Now})
			tc.run(t, NewEnv(l, clk))
		})
	}
}

// NewEnv returns the Env of l, read with clk, appending sessions that
// expire an hour from clk's time.
func NewEnv(l events.Log, clk *Clock) Env {
	return Env{Log: l, Clock: clk, Exp: clk.Now().Add(time.Hour)}
}

// SID returns a new session id.
func SID(t testing.TB) string {
	t.Helper()
	sid, err := sessionid.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// Payload returns the JSON data of the i-th test event.
func Payload(i int) json.RawMessage {
	b, _ := json.Marshal(map[string]int{"n": i})
	return b
}

func AppendN(t *testing.T, e Env, sid string, n int) []events.Event {
	t.Helper()
	out := make([]events.Event, 0, n)
	for i := range n {
		ev, err := e.Log.Append(context.Background(), sid, events.ResponseDelta, Payload(i), e.Exp)
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, ev)
	}
	return out
}

func RangeAll(t *testing.T, l events.Log, sid, after string) []events.Event {
	t.Helper()
	evs, err := l.Range(context.Background(), sid, after, 100000)
	if err != nil {
		t.Fatalf("Range(%q): %v", after, err)
	}
	return evs
}

// ids returns the ids of evs.
func ids(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

// sameEvents fails the test unless got and want are the same events.
func SameEvents(t *testing.T, what string, got, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events %v; want %d %v", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Type != want[i].Type || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("%s: event %d is %s %s %s; want %s %s %s", what, i,
				got[i].ID, got[i].Type, got[i].Data, want[i].ID, want[i].Type, want[i].Data)
		}
	}
}

// increasing fails the test unless the ids of evs parse and strictly
// increase.
func Increasing(t *testing.T, evs []events.Event) {
	t.Helper()
	var prev events.ID
	for i, e := range evs {
		id, err := events.ParseID(e.ID)
		if err != nil {
			t.Fatalf("event %d: id %q: %v", i, e.ID, err)
		}
		if i > 0 && id.Compare(prev) <= 0 {
			t.Fatalf("event %d: id %s not after %s", i, id, prev)
		}
		prev = id
	}
}

// received waits (within Wait) for a wake-up on ch.
func received(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(Wait):
		t.Fatalf("%s: no wake-up within %v", what, Wait)
	}
}

// pending reports whether ch holds a wake-up now, consuming it.
func pending(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
