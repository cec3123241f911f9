package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

var benchEvent = []byte(`{"text":"The checkout service's error rate rose at 14:02 "}`)

// BenchmarkEventLogAppend appends deltas to a local redis-server: one
// session from one goroutine (a round trip per op), and one session per
// goroutine in parallel.
func BenchmarkEventLogAppend(b *testing.B) {
	srv := redistest.Start(b)
	l := startEventLog(b, client(b, srv), redisstore.EventLogConfig{Namespace: namespace()})
	exp := time.Now().Add(time.Hour)
	b.Run("one session", func(b *testing.B) {
		sid := eventstest.SID(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := l.Append(context.Background(), sid, events.ResponseDelta, benchEvent, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel sessions", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			sid := eventstest.SID(b)
			for pb.Next() {
				if _, err := l.Append(context.Background(), sid, events.ResponseDelta, benchEvent, exp); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkEventLogAppendConfirmed appends deltas to one session on a
// master with a replica, first acknowledged once the master has them (the
// baseline), then once the replica confirmed them: the append, WAIT, and
// the confirmed id moved and announced.
func BenchmarkEventLogAppendConfirmed(b *testing.B) {
	master := redistest.Start(b)
	redistest.StartReplica(b, master)
	exp := time.Now().Add(time.Hour)
	for _, c := range []struct {
		name string
		repl redis.Replication
	}{{"master only", redis.Replication{}}, {"a replica confirming", redis.Replication{MinReplicas: 1}}} {
		l := startEventLog(b, client(b, master), redisstore.EventLogConfig{Namespace: namespace(), Replication: c.repl})
		b.Run(c.name, func(b *testing.B) {
			sid := eventstest.SID(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := l.Append(context.Background(), sid, events.ResponseDelta, benchEvent, exp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEventLogFanOut appends on replica A and delivers each event to
// 100 streams of the session on replica B (one notification, one read,
// then 100 deliveries); an op is one append and its delivery to all 100.
func BenchmarkEventLogFanOut(b *testing.B) {
	const followers = 100
	srv := redistest.Start(b)
	cfg := redisstore.EventLogConfig{Namespace: namespace()}
	a, r := startEventLog(b, client(b, srv), cfg), startEventLog(b, client(b, srv), cfg)
	sid := eventstest.SID(b)
	exp := time.Now().Add(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	got, done := make(chan struct{}, followers), make(chan struct{}, followers)
	hub := streamtest.NewHub(b, r)
	for range followers {
		go func() {
			defer func() { done <- struct{}{} }()
			_ = streamtest.Follow(ctx, hub, sid, "", func(events.Event) { got <- struct{}{} })
		}()
	}
	b.Cleanup(func() {
		cancel()
		for range followers {
			<-done
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Append(context.Background(), sid, events.ResponseDelta, benchEvent, exp); err != nil {
			b.Fatal(err)
		}
		for range followers {
			<-got
		}
	}
}
