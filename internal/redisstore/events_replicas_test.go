package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// replicas returns two started event logs on srv in one namespace, each
// with a client of its own: two replicas of the service.
func replicas(t *testing.T, srv *redistest.Server) (a, b *redisstore.EventLog) {
	t.Helper()
	cfg := redisstore.EventLogConfig{Namespace: namespace()}
	return startEventLog(t, client(t, srv), cfg), startEventLog(t, client(t, srv), cfg)
}

// arrivals follows sid on l from "" and sends each delivered event, with
// the time it arrived, on the returned channel.
type arrival struct {
	e  events.Event
	at time.Time
}

func followArrivals(t *testing.T, l events.Log, sid string) <-chan arrival {
	t.Helper()
	ch := make(chan arrival, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = streamtest.Follow(ctx, streamtest.NewHub(t, l), sid, "", func(e events.Event) {
			ch <- arrival{e, time.Now()}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func next(t *testing.T, ch <-chan arrival, want events.Event) arrival {
	t.Helper()
	select {
	case a := <-ch:
		if a.e.ID != want.ID || a.e.Type != want.Type || string(a.e.Data) != string(want.Data) {
			t.Fatalf("delivered %s %s %s; want %s %s %s", a.e.ID, a.e.Type, a.e.Data, want.ID, want.Type, want.Data)
		}
		return a
	case <-time.After(eventstest.Wait):
		t.Fatalf("event %s not delivered within %v", want.ID, eventstest.Wait)
		return arrival{}
	}
}

// TestEventLogReplicas appends on A and follows on B by notification alone
// (nothing polls), then resumes on B from an id A handed out.
func TestEventLogReplicas(t *testing.T) {
	srv := redistest.Start(t)
	a, b := replicas(t, srv)
	ctx := context.Background()
	sid := eventstest.SID(t)
	got := followArrivals(t, b, sid)

	const n = 200
	var appended []events.Event
	var afterReturn, afterCall []time.Duration
	for i := range n {
		called := time.Now()
		e, err := a.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(i), time.Now().Add(time.Hour))
		returned := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		appended = append(appended, e)
		at := next(t, got, e).at
		// The PUBLISH runs inside the script: B may see the event before
		// A's Append has returned.
		afterReturn = append(afterReturn, max(at.Sub(returned), 0))
		afterCall = append(afterCall, at.Sub(called))
	}
	t.Logf("Append on A → delivered by a stream on B, %d events: after Append returned %s; after Append was called %s",
		n, percentiles(afterReturn), percentiles(afterCall))

	// Drop the stream and resume on B after an id of the middle.
	resumed := make(chan events.Event, n)
	ctx2, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_ = streamtest.Follow(ctx2, streamtest.NewHub(t, b), sid, appended[n/2].ID, func(e events.Event) {
			resumed <- e
		})
	}()
	live, err := a.Append(ctx, sid, events.ResponseCompleted, eventstest.Payload(n), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(appended[n/2+1:]), live)
	for _, w := range want {
		select {
		case e := <-resumed:
			if e.ID != w.ID {
				t.Fatalf("resumed with %s; want %s", e.ID, w.ID)
			}
		case <-time.After(eventstest.Wait):
			t.Fatalf("%s not delivered after resuming", w.ID)
		}
	}
	select {
	case e := <-resumed:
		t.Fatalf("an extra event after resuming: %s", e.ID)
	default:
	}
}

// percentiles formats the median, 90th percentile and maximum of ds.
func percentiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return "p50 " + at(0.5).String() + ", p90 " + at(0.9).String() + ", max " + s[len(s)-1].String()
}

// TestEventLogSubscriptionKilled kills every pub/sub connection: B
// re-subscribes, wakes its followers, and they read what was published
// meanwhile, with no poll to fall back on.
func TestEventLogSubscriptionKilled(t *testing.T) {
	srv := redistest.Start(t)
	a, b := replicas(t, srv)
	c := client(t, srv)
	ctx := context.Background()
	sid := eventstest.SID(t)
	got := followArrivals(t, b, sid)
	for i := range 5 {
		if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		e, err := a.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(i), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		appended := time.Now()
		t.Logf("round %d: delivered on B %v after the append that followed the kill", i, next(t, got, e).at.Sub(appended))
	}
}

// countingLog counts reads.
type countingLog struct {
	events.Log
	ranges atomic.Int64
}

func (c *countingLog) Range(ctx context.Context, sid, after string, limit int) ([]events.Event, error) {
	c.ranges.Add(1)
	return c.Log.Range(ctx, sid, after, limit)
}

// TestEventLogOutage stops Redis under a follower: appends fail, the
// stream neither ends nor spins, and once Redis is back (empty: no
// persistence) it delivers what is appended next, with nothing repeated.
func TestEventLogOutage(t *testing.T) {
	srv := redistest.Start(t)
	a, b := replicas(t, srv)
	ctx := context.Background()
	sid := eventstest.SID(t)
	const poll = time.Second // the hub's liveness tick retries failed reads
	counted := &countingLog{Log: b}
	f := streamtest.StartFollow(t, streamtest.NewHub(t, counted), sid, "")
	appendOn := func(l events.Log, i int) (events.Event, error) {
		ctx, cancel := context.WithTimeout(ctx, eventstest.Wait)
		defer cancel()
		return l.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(i), time.Now().Add(time.Hour))
	}
	before, err := appendOn(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WaitFor(t, 1)

	srv.Stop()
	if _, err := appendOn(a, 1); !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Append with Redis down = %v; want ErrUnavailable", err)
	}
	reads, began := counted.ranges.Load(), time.Now()
	time.Sleep(time.Second) // an observation window, not a deadline
	reads, took := counted.ranges.Load()-reads, time.Since(began)
	if limit := 2*int64(took/poll) + 10; reads > limit {
		t.Fatalf("%d reads in %v with Redis down (poll %v): spinning; want at most %d", reads, took, poll, limit)
	}
	if done, end, err := f.Done(); done {
		t.Fatalf("the stream ended during the outage: %v %v", err, end)
	}
	t.Logf("%d reads in %v with Redis down (poll %v)", reads, took, poll)

	srv.Restart()
	var after events.Event
	within(t, eventstest.Wait, "Append works again", func() bool {
		after, err = appendOn(a, 2)
		return err == nil
	})
	got := f.WaitFor(t, 2)
	if len(got) != 2 || got[0].ID != before.ID || got[1].ID != after.ID {
		t.Fatalf("delivered %v; want [%s %s]", got, before.ID, after.ID)
	}
	if done, end, err := f.Done(); done {
		t.Fatalf("the stream ended: %v %v", err, end)
	}
	// B's own appends work too, and reach the follower.
	var mine events.Event
	within(t, eventstest.Wait, "Append on B", func() bool {
		mine, err = appendOn(b, 3)
		return err == nil
	})
	if got := f.WaitFor(t, 3); got[2].ID != mine.ID || len(got) != 3 {
		t.Fatalf("delivered %v; want a third event %s", got, mine.ID)
	}
}

// TestEventLogReadsOnlyConfirmed: with a replica required, an event the
// replica has not confirmed is in Redis but neither read (Range) nor
// announced (a follower does not get it): a failover could take it back
// after a stream had delivered it. Once a replica is back, the next Range
// that meets it after a WAIT's time confirms it, and every follower gets
// it, in order.
func TestEventLogReadsOnlyConfirmed(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	ns := namespace()
	repl := redis.Replication{MinReplicas: 1, Timeout: 200 * time.Millisecond}
	cfg := redisstore.EventLogConfig{Namespace: ns, Replication: repl}
	a, b := startEventLog(t, client(t, master), cfg), startEventLog(t, client(t, master), cfg)
	ctx := context.Background()
	sid := eventstest.SID(t)
	exp := time.Now().Add(time.Hour)
	got := followArrivals(t, b, sid)

	first, err := a.Append(ctx, sid, events.MessageCreated, eventstest.Payload(1), exp)
	if err != nil {
		t.Fatal(err)
	}
	next(t, got, first)

	replica.Stop()
	if _, err := a.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(2), exp); !errors.Is(err, redis.ErrNotReplicated) {
		t.Fatalf("Append without the replica = %v, want ErrNotReplicated", err)
	}
	if n := client(t, master).XLen(ctx, redisstore.EventKey(ns, sid)).Val(); n != 2 {
		t.Fatalf("the master holds %d events, want 2 (the unconfirmed one applied)", n)
	}
	readsOnly := func(l *redisstore.EventLog, want ...events.Event) {
		t.Helper()
		evs, err := l.Range(ctx, sid, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(evs, want, func(x, y events.Event) bool { return x.ID == y.ID }) {
			t.Fatalf("Range read %d events %v, want %d", len(evs), evs, len(want))
		}
	}
	readsOnly(a, first)
	readsOnly(b, first)
	// Past a WAIT's time, a Range tries to confirm it, and cannot.
	time.Sleep(repl.Timeout + 1200*time.Millisecond)
	readsOnly(b, first)
	select {
	case e := <-got:
		t.Fatalf("a follower got the unconfirmed event %s", e.e.ID)
	default:
	}

	redistest.StartReplica(t, master)
	evs, err := b.Range(ctx, sid, "", 10)
	if err != nil || len(evs) != 2 {
		t.Fatalf("Range with a replica back = %d events, %v; want 2, the second confirmed by this read", len(evs), err)
	}
	next(t, got, evs[1]) // the confirmation is announced
	third, err := a.Append(ctx, sid, events.ResponseDelta, eventstest.Payload(3), exp)
	if err != nil {
		t.Fatal(err)
	}
	next(t, got, third)
	readsOnly(a, first, evs[1], third)
}
