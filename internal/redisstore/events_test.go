package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// startEventLog returns a started event log over c, closed when the test
// ends.
func startEventLog(t testing.TB, c goredis.UniversalClient, cfg redisstore.EventLogConfig) *redisstore.EventLog {
	t.Helper()
	l, err := redisstore.NewEventLog(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// TestEventLogContract runs the event log contract on one server, each
// case with a log of its own in a namespace of its own.
func TestEventLogContract(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	newLog := func(t *testing.T, opts eventstest.Options) events.Log {
		return startEventLog(t, c, redisstore.EventLogConfig{Namespace: namespace(), MaxLen: opts.MaxLen})
	}
	eventstest.Run(t, newLog)
	streamtest.RunFollow(t, newLog)
}

// TestEventLogLayout pins the key, the entry, the expiry and the message
// the package documents: operators read them, and other versions must
// agree.
func TestEventLogLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ns := namespace()
	l := startEventLog(t, c, redisstore.EventLogConfig{Namespace: ns})
	sid := eventstest.SID(t)
	key, channel := ns+":events:{"+sid+"}", ns+":events:notify"
	if redisstore.EventKey(ns, sid) != key || redisstore.EventChannel(ns) != channel {
		t.Fatalf("key %q, channel %q", redisstore.EventKey(ns, sid), redisstore.EventChannel(ns))
	}
	sub := c.Subscribe(ctx, channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}

	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	e, err := l.Append(ctx, sid, events.MessageCreated, json.RawMessage(`{ "content": "hi" }`), exp)
	if err != nil {
		t.Fatal(err)
	}
	msgs := c.XRange(ctx, key, "-", "+").Val()
	want := map[string]any{"t": events.MessageCreated, "d": `{"content":"hi"}`}
	if len(msgs) != 1 || msgs[0].ID != e.ID || len(msgs[0].Values) != 2 ||
		msgs[0].Values["t"] != want["t"] || msgs[0].Values["d"] != want["d"] {
		t.Fatalf("XRANGE %s = %+v; want one entry %s %v", key, msgs, e.ID, want)
	}
	if !events.ValidID(e.ID) {
		t.Fatalf("Redis id %q does not parse", e.ID)
	}
	if got, err := c.Do(ctx, "PEXPIRETIME", key).Int64(); err != nil || got != exp.UnixMilli() {
		t.Fatalf("PEXPIRETIME = %d, %v; want %d", got, err, exp.UnixMilli())
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != sid {
		t.Fatalf("published %+v, %v; want the session id", msg, err)
	}

	// The default cap, trimmed exactly.
	for i := range events.DefaultMaxLen + 4 {
		if _, err := l.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(i), exp); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.XLen(ctx, key).Val(); n != events.DefaultMaxLen {
		t.Fatalf("XLEN = %d after %d appends; want %d", n, events.DefaultMaxLen+5, events.DefaultMaxLen)
	}
	first := c.XRangeN(ctx, key, "-", "+", 1).Val()
	if len(first) != 1 || first[0].Values["d"] != string(eventstest.Payload(4)) {
		t.Fatalf("oldest entry %+v; want payload 4", first)
	}
}

func TestNewEventLog(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	cases := []struct {
		name   string
		client goredis.UniversalClient
		cfg    redisstore.EventLogConfig
		ok     bool
	}{
		{"defaults", c, redisstore.EventLogConfig{}, true},
		{"a namespace and a cap", c, redisstore.EventLogConfig{Namespace: "wrev-test", MaxLen: 10}, true},
		{"no client", nil, redisstore.EventLogConfig{}, false},
		{"a namespace with a brace", c, redisstore.EventLogConfig{Namespace: "a{b"}, false},
		{"a negative cap", c, redisstore.EventLogConfig{MaxLen: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := redisstore.NewEventLog(tc.client, tc.cfg); (err == nil) != tc.ok {
				t.Fatalf("NewEventLog = %v; want ok %v", err, tc.ok)
			}
		})
	}
}

// TestEventLogRedisDown: Start, Append and Range say ErrUnavailable.
func TestEventLogRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	srv.Stop()
	l, err := redisstore.NewEventLog(c, redisstore.EventLogConfig{Namespace: namespace()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventstest.Wait)
	defer cancel()
	sid := eventstest.SID(t)
	if err := l.Start(ctx); !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Start = %v; want ErrUnavailable", err)
	}
	if _, err := l.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(0), time.Now().Add(time.Hour)); !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Append = %v; want ErrUnavailable", err)
	}
	if _, err := l.Range(ctx, sid, "", 10); !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Range = %v; want ErrUnavailable", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEventLogMalformedEntry: an entry Append did not write is an error,
// not an event with empty fields.
func TestEventLogMalformedEntry(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ns := namespace()
	l := startEventLog(t, c, redisstore.EventLogConfig{Namespace: ns})
	sid := eventstest.SID(t)
	if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: redisstore.EventKey(ns, sid), Values: []any{"x", "1"}}).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Range(ctx, sid, "", 10); err == nil || errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Range = %v; want an error other than ErrUnavailable", err)
	}
}
