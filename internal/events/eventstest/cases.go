package eventstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
)

func testOrder(t *testing.T, e env) {
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
		e.clk.Advance(st.advance)
		ev, err := e.log.Append(ctx, sid, st.typ, json.RawMessage(st.data), e.exp)
		if err != nil {
			t.Fatalf("%s: Append: %v", st.name, err)
		}
		if ev.Type != st.typ || string(ev.Data) != st.want {
			t.Fatalf("%s: Append returned %s %s; want %s %s", st.name, ev.Type, ev.Data, st.typ, st.want)
		}
		appended = append(appended, ev)
		// Visible as soon as Append returns: no polling.
		sameEvents(t, st.name+": Range right after Append", rangeAll(t, e.log, sid, ""), appended)
	}
	increasing(t, appended)
}

func testAfter(t *testing.T, e env) {
	sid := SID(t)
	all := appendN(t, e, sid, 10)
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
			sameEvents(t, "Range", rangeAll(t, e.log, sid, tc.after), tc.want)
		})
	}
}

func testLimit(t *testing.T, e env) {
	sid := SID(t)
	all := appendN(t, e, sid, 10)
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
		got, err := e.log.Range(context.Background(), sid, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		sameEvents(t, fmt.Sprintf("Range after %q limit %d", tc.after, tc.limit), got, tc.want)
	}
}

func testCap(t *testing.T, e env) {
	sid := SID(t)
	all := appendN(t, e, sid, 12) // the cap is 5
	sameEvents(t, "the log keeps the last 5", rangeAll(t, e.log, sid, ""), all[7:])
	sameEvents(t, "after a trimmed id: the oldest held on", rangeAll(t, e.log, sid, all[2].ID), all[7:])
	sameEvents(t, "after the newest trimmed id", rangeAll(t, e.log, sid, all[6].ID), all[7:])
	sameEvents(t, "after a held id", rangeAll(t, e.log, sid, all[8].ID), all[9:])
	more := appendN(t, e, sid, 1)
	sameEvents(t, "one more, one less", rangeAll(t, e.log, sid, ""), append(all[8:], more...))
}

// testExpiry appends with an expiry two seconds ahead and moves the clock
// past it: the memory log answers at once, Redis once its own clock says so.
func testExpiry(t *testing.T, e env) {
	ctx := context.Background()
	sid, other := SID(t), SID(t)
	exp := e.clk.Now().Add(2 * time.Second)
	first, err := e.log.Append(ctx, sid, events.MessageCreated, Payload(1), exp)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, e, other, 1) // expires in an hour
	// Look before the expiry only if there is time left to.
	if time.Until(exp) > 500*time.Millisecond {
		sameEvents(t, "before the expiry", rangeAll(t, e.log, sid, ""), []events.Event{first})
	}
	e.clk.Advance(3 * time.Second)
	Eventually(t, "the log expires", func() bool { return len(rangeAll(t, e.log, sid, "")) == 0 })
	if n := len(rangeAll(t, e.log, other, "")); n != 1 {
		t.Fatalf("another session's log holds %d events after the first expired; want 1", n)
	}

	// An Append whose expiry has passed is refused and records nothing.
	_, err = e.log.Append(ctx, sid, events.ResponseDelta, Payload(2), e.clk.Now().Add(-time.Second))
	if !errors.Is(err, events.ErrExpired) {
		t.Fatalf("Append after the expiry = %v; want ErrExpired", err)
	}
	// A new log starts afresh, its ids after the expired log's: a client
	// resuming after an id of the old log gets the new events.
	again, err := e.log.Append(ctx, sid, events.ResponseDelta, Payload(3), e.clk.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, "a new log after the expiry", rangeAll(t, e.log, sid, first.ID), []events.Event{again})
	increasing(t, []events.Event{first, again})
}

func testIndependent(t *testing.T, e env) {
	a, b := SID(t), SID(t)
	wakeB, cancel := notify(e.log, b)
	defer cancel()
	wakeA, cancelA := notify(e.log, a)
	defer cancelA()
	evA := appendN(t, e, a, 3)
	received(t, "a", wakeA)
	if pending(wakeB) {
		t.Fatal("an append to a woke b")
	}
	evB := appendN(t, e, b, 2)
	sameEvents(t, "a", rangeAll(t, e.log, a, ""), evA)
	sameEvents(t, "b", rangeAll(t, e.log, b, ""), evB)
}

func testInvalid(t *testing.T, e env) {
	ctx := context.Background()
	sid := SID(t)
	good := strings.TrimPrefix(sid, "wsess_")
	badSIDs := []string{"", "wsess_", "wsess_short", "sess_" + good, good, "wsess_" + good[:26] + "-",
		"wsess_" + good[:26] + "}", "wsess_{" + good[1:], sid + "0", " " + sid}
	for _, bad := range badSIDs {
		if _, err := e.log.Append(ctx, bad, events.ResponseDelta, Payload(0), e.exp); !errors.Is(err, events.ErrInvalidSession) {
			t.Errorf("Append(sid %q) = %v; want ErrInvalidSession", bad, err)
		}
		if _, err := e.log.Range(ctx, bad, "", 10); !errors.Is(err, events.ErrInvalidSession) {
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
		{"no type", "", `{}`, e.exp, events.ErrInvalidEvent},
		{"a type with a newline", "a\nb", `{}`, e.exp, events.ErrInvalidEvent},
		{"a type with a colon", "a:b", `{}`, e.exp, events.ErrInvalidEvent},
		{"a type with capitals", "Message", `{}`, e.exp, events.ErrInvalidEvent},
		{"a type too long", strings.Repeat("a", events.MaxTypeLen+1), `{}`, e.exp, events.ErrInvalidEvent},
		{"no data", events.ResponseDelta, ``, e.exp, events.ErrInvalidEvent},
		{"data not JSON", events.ResponseDelta, `{"a":`, e.exp, events.ErrInvalidEvent},
		{"two JSON values", events.ResponseDelta, `{} {}`, e.exp, events.ErrInvalidEvent},
		{"no expiry", events.ResponseDelta, `{}`, time.Time{}, events.ErrInvalidEvent},
		{"expired", events.ResponseDelta, `{}`, e.clk.Now().Add(-time.Second), events.ErrExpired},
	}
	for _, tc := range appends {
		if _, err := e.log.Append(ctx, sid, tc.typ, json.RawMessage(tc.data), tc.expires); !errors.Is(err, tc.want) {
			t.Errorf("Append with %s = %v; want %v", tc.name, err, tc.want)
		}
	}
	for _, bad := range []string{"x", "1", "1-", "-1", "01-1", "1-01", "1-1-1", "1-1 ", " 1-1", "+1-1", "1--1",
		"18446744073709551616-0", strings.Repeat("9", 30) + "-0", "１-1"} {
		if _, err := e.log.Range(ctx, sid, bad, 10); !errors.Is(err, events.ErrInvalidID) {
			t.Errorf("Range(after %q) = %v; want ErrInvalidID", bad, err)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := e.log.Range(ctx, sid, "", limit); err == nil {
			t.Errorf("Range(limit %d) = nil error", limit)
		}
	}
	if got := rangeAll(t, e.log, sid, ""); len(got) != 0 {
		t.Fatalf("refused appends recorded %v", ids(got))
	}
}

// testNotify: a waiter is woken after appends, and a cancelled waiter is
// never woken. Notifications of different sessions may arrive in any order (on
// a Redis Cluster they are published by different nodes), so nothing here
// waits on one session to conclude about another.
func testNotify(t *testing.T, e env) {
	sid := SID(t)
	wake, cancel := notify(e.log, sid)
	appendN(t, e, sid, 5)
	received(t, "the waiter", wake)

	other, cancelOther := notify(e.log, sid) // a second waiter of the same session
	defer cancelOther()
	cancel()
	cancel()            // twice is fine
	for pending(wake) { // wake-ups of the first appends still in flight
	}
	appendN(t, e, sid, 1)
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
