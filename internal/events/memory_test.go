package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
)

func TestMemoryContract(t *testing.T) {
	newLog := func(t *testing.T, opts eventstest.Options) events.Log {
		return newMemory(t, events.MemoryOptions{MaxLen: opts.MaxLen, Now: opts.Now})
	}
	eventstest.Run(t, newLog)
	streamtest.RunFollow(t, newLog)
}

func newMemory(t testing.TB, opts events.MemoryOptions) *events.Memory {
	t.Helper()
	m, err := events.NewMemory(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMemoryOptions(t *testing.T) {
	if _, err := events.NewMemory(events.MemoryOptions{MaxLen: -1}); err == nil {
		t.Fatal("NewMemory accepted a negative MaxLen")
	}
	m := newMemory(t, events.MemoryOptions{})
	ctx, sid := context.Background(), eventstest.SID(t)
	for i := range events.DefaultMaxLen + 5 {
		if _, err := m.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(i), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := m.Range(ctx, sid, "", 2*events.DefaultMaxLen)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != events.DefaultMaxLen || string(evs[0].Data) != string(eventstest.Payload(5)) {
		t.Fatalf("default cap: %d events from %s; want %d from %s", len(evs), evs[0].Data, events.DefaultMaxLen, eventstest.Payload(5))
	}
}

// TestMemorySweep: the logs of expired sessions nobody reads again are
// dropped by a later Append, so the embedded default does not grow.
func TestMemorySweep(t *testing.T) {
	clk := eventstest.NewClock(time.Now())
	m := newMemory(t, events.MemoryOptions{Now: clk.Now})
	ctx := context.Background()
	for range 10 {
		if _, err := m.Append(ctx, eventstest.SID(t), events.MessageCreated, eventstest.Payload(0), clk.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.Sessions(); n != 10 {
		t.Fatalf("%d sessions; want 10", n)
	}
	clk.Advance(2 * time.Minute)
	if _, err := m.Append(ctx, eventstest.SID(t), events.MessageCreated, eventstest.Payload(0), clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := m.Sessions(); n != 1 {
		t.Fatalf("%d sessions after the sweep; want 1", n)
	}
}

// TestMemoryIDs pins the id rule shared with Redis: the clock's millisecond,
// or the last id's with the next sequence number.
func TestMemoryIDs(t *testing.T) {
	start := time.UnixMilli(1_718_000_000_000)
	clk := eventstest.NewClock(start)
	m := newMemory(t, events.MemoryOptions{Now: clk.Now})
	sid := eventstest.SID(t)
	steps := []struct {
		advance time.Duration
		want    string
	}{
		{0, "1718000000000-0"},
		{0, "1718000000000-1"},
		{999 * time.Microsecond, "1718000000000-2"},
		{time.Microsecond, "1718000000001-0"},
		{-time.Second, "1718000000001-1"},
		{2 * time.Second, "1718000001001-0"},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		e, err := m.Append(context.Background(), sid, events.ResponseDelta, eventstest.Payload(i), start.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != st.want {
			t.Fatalf("append %d: id %s; want %s", i, e.ID, st.want)
		}
	}
}
