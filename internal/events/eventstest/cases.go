package eventstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/causeflow/widget-sessions/internal/wait"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
)

func testOrder(t *testing.T, e Env) {
	ctx := context.Background()
	sid := SID(t)
	steps := []struct {
		name    string
		advance time.Duration // the log's clock moves by this before the append
		typ     string
		data    string
		want    string // Data as stored: compact
	}{
		{"a message, pretty JSON", 0, events.MessageCreated, "{ \"content\" : \"hi\\nthere\" }\n", `{"content":"hi\nthere"}`},
		{"same millisecond", 0, events.ResponseDelta, `{"text":"a"}`, `{"text":"a"}`},
		{"a few ms later", 5 * time.Millisecond, events.ResponseDelta, `{"text":"b"}`, `{"text":"b"}`},
		{"the clock went back", -time.Minute, events.ResponseCompleted, `{}`, `{}`},
		{"forward again", 2 * time.Minute, events.Error, `{"code":"x"}`, `{"code":"x"}`},
		{"a bare string", 0, events.ResponseDelta, `"s"`, `"s"`},
	}
	var appended []events.Event
	for _, st := range steps {
		e.Clock.Advance(st.advance)
		ev, err := e.Log.Append(ctx, sid, st.typ, json.RawMessage(st.data), e.Exp)
		if err != nil {
			t.Fatalf("%s: Append: %v", st.name, err)
		}
		if ev.Type != st.typ || string(ev.Data) != st.want {
			t.Fatalf("%s: Append returned %s %s; want %s %s", st.name, ev.Type, ev.Data, st.typ, st.want)
		}
		appended = append(appended, ev)
		// Visible as soon as Append returns: no polling.
		SameEvents(t, st.name+": Range right after Append", RangeAll(t, e.Log, sid, ""), appended)
	}
	Increasing(t, appended)
}

func testAfter(t *testing.T, e Env) {
	sid := SID(t)
	all := AppendN(t, e, sid, 10)
	last, _ := events.ParseID(all[9].ID)
	beyond, _ := last.Next()
	cases := []struct {
		name  string
		after string
		want  []events.Event
	}{
		{"empty: from the start", "", all},
		{"0-0: from the start", "0-0", all},
		{"after the first", all[0].ID, all[1:]},
		{"after a middle one", all[4].ID, all[5:]},
		{"after the last", all[9].ID, nil},
		{"after an id past the last", beyond.String(), nil},
		{"after the greatest id", "18446744073709551615-18446744073709551615", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			SameEvents(t, "Range", RangeAll(t, e.Log, sid, tc.after), tc.want)
		})
	}
}

func testLimit(t *testing.T, e Env) {
	sid := SID(t)
	all := AppendN(t, e, sid, 10)
	cases := []struct {
		after string
		limit int
		want  []events.Event
	}{
		{"", 1, all[:1]},
		{"", 3, all[:3]},
		{"", 10, all},
		{"", 11, all},
		{all[2].ID, 1, all[3:4]},
		{all[2].ID, 4, all[3:7]},
		{all[8].ID, 5, all[9:]},
	}
	for _, tc := range cases {
		got, err := e.Log.Range(context.Background(), sid, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		SameEvents(t, fmt.Sprintf("Range after %q limit %d", tc.after, tc.limit), got, tc.want)
	}
}

func testCap(t *testing.T, e Env) {
	sid := SID(t)
	all := AppendN(t, e, sid, 12) // the cap is 5
	SameEvents(t, "the log keeps the last 5", RangeAll(t, e.Log, sid, ""), all[7:])
	SameEvents(t, "after a trimmed id: the oldest held on", RangeAll(t, e.Log, sid, all[2].ID), all[7:])
	SameEvents(t, "after the newest trimmed id", RangeAll(t, e.Log, sid, all[6].ID), all[7:])
	SameEvents(t, "after a held id", RangeAll(t, e.Log, sid, all[8].ID), all[9:])
	more := AppendN(t, e, sid, 1)
	SameEvents(t, "one more, one less", RangeAll(t, e.Log, sid, ""), append(all[8:], more...))
}

// testExpiry appends with an expiry two seconds ahead and moves the clock
// past it: the memory log answers at once, Redis once its own clock says so.
func testExpiry(t *testing.T, e Env) {
	ctx := context.Background()
	sid, other := SID(t), SID(t)
	exp := e.Clock.Now().Add(2 * time.Second)
	first, err := e.Log.Append(ctx, sid, events.MessageCreated, Payload(1), exp)
	if err != nil {
		t.Fatal(err)
	}
	AppendN(t, e, other, 1) // expires in an hour
	// Look before the expiry only if there is time left to.
	if time.Until(exp) > 500*time.Millisecond {
		SameEvents(t, "before the expiry", RangeAll(t, e.Log, sid, ""), []events.Event{first})
	}
	e.Clock.Advance(3 * time.Second)
	wait.For(t, "the log expires", func() bool { return len(RangeAll(t, e.Log, sid, "")) == 0 })
	if n := len(RangeAll(t, e.Log, other, "")); n != 1 {
		t.Fatalf("another session's log holds %d events after the first expired; want 1", n)
	}

	// An Append whose expiry has passed is refused and records nothing.
	_, err = e.Log.Append(ctx, sid, events.ResponseDelta, Payload(2), e.Clock.Now().Add(-time.Second))
	if !errors.Is(err, events.ErrExpired) {
		t.Fatalf("Append after the expiry = %v; want ErrExpired", err)
	}
	// A new log starts afresh, its ids after the expired log's: a client
	// resuming after an id of the old log gets the new events.
	again, err := e.Log.Append(ctx, sid, events.ResponseDelta, Payload(3), e.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	SameEvents(t, "a new log after the expiry", RangeAll(t, e.Log, sid, first.ID), []events.Event{again})
	Increasing(t, []events.Event{first, again})
}

func testIndependent(t *testing.T, e Env) {
	a, b := SID(t), SID(t)
	wakeB, cancel := notify(e.Log, b)
	defer cancel()
	wakeA, cancelA := notify(e.Log, a)
	defer cancelA()
	evA := AppendN(t, e, a, 3)
	received(t, "a", wakeA)
	if pending(wakeB) {
		t.Fatal("an append to a woke b")
	}
	evB := AppendN(t, e, b, 2)
	SameEvents(t, "a", RangeAll(t, e.Log, a, ""), evA)
	SameEvents(t, "b", RangeAll(t, e.Log, b, ""), evB)
}

func testInvalid(t *testing.T, e Env) {
	ctx := context.Background()
	sid := SID(t)
	good := strings.TrimPrefix(sid, "wsess_")
	badSIDs := []string{"", "wsess_", "wsess_short", "sess_" + good, good, "wsess_" + good[:26] + "-",
		"wsess_" + good[:26] + "}", "wsess_{" + good[1:], sid + "0", " " + sid}
	for _, bad := range badSIDs {
		if _, err := e.Log.Append(ctx, bad, events.ResponseDelta, Payload(0), e.Exp); !errors.Is(err, events.ErrInvalidSession) {
			t.Errorf("Append(sid %q) = %v; want ErrInvalidSession", bad, err)
		}
		if _, err := e.Log.Range(ctx, bad, "", 10); !errors.Is(err, events.ErrInvalidSession) {
			t.Errorf("Range(sid %q) = %v; want ErrInvalidSession", bad, err)
		}
	}
	appends := []struct {
		name    string
		typ     string
		data    string
		expires time.Time
		want    error
	}{
		{"no type", "", `{}`, e.Exp, events.ErrInvalidEvent},
		{"a type with a newline", "a\nb", `{}`, e.Exp, events.ErrInvalidEvent},
		{"a type with a colon", "a:b", `{}`, e.Exp, events.ErrInvalidEvent},
		{"a type with capitals", "Message", `{}`, e.Exp, events.ErrInvalidEvent},
		{"a type too long", strings.Repeat("a", events.MaxTypeLen+1), `{}`, e.Exp, events.ErrInvalidEvent},
		{"no data", events.ResponseDelta, ``, e.Exp, events.ErrInvalidEvent},
		{"data not JSON", events.ResponseDelta, `{"a":`, e.Exp, events.ErrInvalidEvent},
		{"two JSON values", events.ResponseDelta, `{} {}`, e.Exp, events.ErrInvalidEvent},
		{"no expiry", events.ResponseDelta, `{}`, time.Time{}, events.ErrInvalidEvent},
		{"expired", events.ResponseDelta, `{}`, e.Clock.Now().Add(-time.Second), events.ErrExpired},
	}
	for _, tc := range appends {
		if _, err := e.Log.Append(ctx, sid, tc.typ, json.RawMessage(tc.data), tc.expires); !errors.Is(err, tc.want) {
			t.Errorf("Append with %s = %v; want %v", tc.name, err, tc.want)
		}
	}
	for _, bad := range []string{"x", "1", "1-", "-1", "01-1", "1-01", "1-1-1", "1-1 ", " 1-1", "+1-1", "1--1",
		"18446744073709551616-0", strings.Repeat("9", 30) + "-0", "１-1"} {
		if _, err := e.Log.Range(ctx, sid, bad, 10); !errors.Is(err, events.ErrInvalidID) {
			t.Errorf("Range(after %q) = %v; want ErrInvalidID", bad, err)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := e.Log.Range(ctx, sid, "", limit); err == nil {
			t.Errorf("Range(limit %d) = nil error", limit)
		}
	}
	if got := RangeAll(t, e.Log, sid, ""); len(got) != 0 {
		t.Fatalf("refused appends recorded %v", ids(got))
	}
}

// testNotify: a waiter is woken after appends, and a cancelled waiter is
// never woken. Notifications of different sessions may arrive in any order (on
// a Redis Cluster they are published by different nodes), so nothing here
// waits on one session to conclude about another.
func testNotify(t *testing.T, e Env) {
	sid := SID(t)
	wake, cancel := notify(e.Log, sid)
	AppendN(t, e, sid, 5)
	received(t, "the waiter", wake)

	other, cancelOther := notify(e.Log, sid) // a second waiter of the same session
	defer cancelOther()
	cancel()
	cancel()            // twice is fine
	for pending(wake) { // wake-ups of the first appends still in flight
	}
	AppendN(t, e, sid, 1)
	received(t, "the waiter left", other)
	if pending(wake) {
		t.Fatal("a cancelled waiter was woken")
	}
}

// notify registers a waiter of sid that signals a channel of capacity one.
func notify(l events.Log, sid string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	cancel := l.Notify(sid, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return ch, cancel
}

// testGap: what Gap says of each place a stream may resume from.
func testGap(t *testing.T, e Env) {
	sid := SID(t)
	all := AppendN(t, e, sid, 12) // the cap is 5: 7..11 held, 6 the last trimmed
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
		gap, oldest, err := e.Log.Gap(t.Context(), sid, tc.after)
		if err != nil || gap != tc.gap || (tc.after != "" && oldest != all[7].ID) {
			t.Errorf("%s: Gap = %v, %q, %v; want %v, %q", tc.name, gap, oldest, err, tc.gap, all[7].ID)
		}
	}
	if gap, oldest, err := e.Log.Gap(t.Context(), SID(t), all[8].ID); err != nil || !gap || oldest != "" {
		t.Errorf("a log that is gone: Gap = %v, %q, %v; want a gap and no oldest id", gap, oldest, err)
	}
}
