package eventstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/events"
)

// FollowPoll is the poll interval of the suite's followers: an hour, so
// that a follower that keeps up does so by Notify alone.
const FollowPoll = time.Hour

// Follower runs events.Follow in a goroutine and records what it delivers.
type Follower struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed

	mu  sync.Mutex
	got []events.Event
}

// StartFollow follows sid after afterID on l, re-reading every poll; the
// follower is stopped when the test ends.
func StartFollow(t testing.TB, l events.Log, sid, afterID string, poll time.Duration) *Follower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.err = events.Follow(ctx, l, sid, afterID, poll, func(e events.Event) error {
			f.mu.Lock()
			f.got = append(f.got, e)
			f.mu.Unlock()
			return nil
		})
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
			t.Fatalf("Follow returned early: %v", f.err)
		default:
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.got) >= n
	})
	return f.Events()
}

// Stop cancels the follower and returns what Follow returned.
func (f *Follower) Stop(t testing.TB) error {
	t.Helper()
	f.cancel()
	Eventually(t, "Follow returns once cancelled", func() bool {
		select {
		case <-f.done:
			return true
		default:
			return false
		}
	})
	return f.err
}

// Done reports whether Follow has returned.
func (f *Follower) Done() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

func testFollowLive(t *testing.T, e env) {
	sid := SID(t)
	backlog := appendN(t, e, sid, 3)
	f := StartFollow(t, e.log, sid, "", FollowPoll)
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
	all := appendN(t, e, sid, 8)
	for _, after := range []string{"", all[0].ID, all[3].ID, all[6].ID, all[7].ID} {
		t.Run("after "+after, func(t *testing.T) {
			want := rangeAll(t, e.log, sid, after) // grows with each subtest's live event
			f := StartFollow(t, e.log, sid, after, FollowPoll)
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
		f := StartFollow(t, e.log, sid, tc.after, FollowPoll)
		sameEvents(t, "after "+tc.after, f.WaitFor(t, len(tc.want)), tc.want)
		if err := f.Stop(t); !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		sameEvents(t, "after "+tc.after+", nothing more", f.Events(), tc.want)
	}
}

func testFollowMany(t *testing.T, e env) {
	sid := SID(t)
	appendN(t, e, sid, 5)
	fs := []*Follower{StartFollow(t, e.log, sid, "", FollowPoll), StartFollow(t, e.log, sid, "", FollowPoll), StartFollow(t, e.log, sid, "", FollowPoll)}
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
	fs := []*Follower{StartFollow(t, e.log, sid, "", FollowPoll), StartFollow(t, e.log, sid, "", FollowPoll)}
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
	appendN(t, e, sid, 3)
	errStop := errors.New("the client went away")
	cases := []struct {
		name    string
		sid     string
		after   string
		want    error
		calls   int
		stopsAt int // deliver fails on this call (1-based); 0: never
	}{
		{"invalid session", "wsess_nope", "", events.ErrInvalidSession, 0, 0},
		{"invalid last event id", sid, "12", events.ErrInvalidID, 0, 0},
		{"deliver fails", sid, "", errStop, 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			done := make(chan error, 1)
			go func() {
				done <- events.Follow(context.Background(), e.log, tc.sid, tc.after, FollowPoll, func(events.Event) error {
					calls++
					if calls == tc.stopsAt {
						return fmt.Errorf("wrapped: %w", errStop)
					}
					return nil
				})
			}()
			var err error
			Eventually(t, "Follow returns", func() bool {
				select {
				case err = <-done:
					return true
				default:
					return false
				}
			})
			if !errors.Is(err, tc.want) || calls != tc.calls {
				t.Fatalf("Follow = %v after %d deliveries; want %v after %d", err, calls, tc.want, tc.calls)
			}
		})
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
