package events_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/events"
	"github.com/causeflow/widget-sessions/pkg/events/eventstest"
)

var benchData = []byte(`{"text":"The checkout service's error rate rose at 14:02 "}`)

// BenchmarkMemoryAppend appends deltas to one session's log, and to one
// session per goroutine in parallel.
func BenchmarkMemoryAppend(b *testing.B) {
	exp := time.Now().Add(time.Hour)
	b.Run("one session", func(b *testing.B) {
		m := newMemory(b, events.MemoryOptions{})
		sid := eventstest.SID(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Append(context.Background(), sid, events.ResponseDelta, benchData, exp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel sessions", func(b *testing.B) {
		m := newMemory(b, events.MemoryOptions{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			sid := eventstest.SID(b)
			for pb.Next() {
				if _, err := m.Append(context.Background(), sid, events.ResponseDelta, benchData, exp); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkFollowFanOut delivers each appended event to 100 followers of
// one session. "paced": an op is one append and its delivery to all 100
// (the latency of a fan-out); "burst": appends as fast as they go, an op
// being one event delivered to all 100 (the throughput).
func BenchmarkFollowFanOut(b *testing.B) {
	const followers = 100
	exp := time.Now().Add(time.Hour)
	start := func(b *testing.B, m *events.Memory, sid string, deliver func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, followers)
		for range followers {
			go func() {
				defer func() { done <- struct{}{} }()
				_ = events.Follow(ctx, m, sid, "", eventstest.FollowPoll, func(events.Event) error { deliver(); return nil })
			}()
		}
		b.Cleanup(func() {
			cancel()
			for range followers {
				<-done
			}
		})
	}
	b.Run("paced", func(b *testing.B) {
		m := newMemory(b, events.MemoryOptions{})
		sid := eventstest.SID(b)
		got := make(chan struct{}, followers)
		start(b, m, sid, func() { got <- struct{}{} })
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Append(context.Background(), sid, events.ResponseDelta, benchData, exp); err != nil {
				b.Fatal(err)
			}
			for range followers {
				<-got
			}
		}
	})
	b.Run("burst", func(b *testing.B) {
		m := newMemory(b, events.MemoryOptions{MaxLen: b.N + 1}) // no event trimmed before it is read
		sid := eventstest.SID(b)
		var delivered atomic.Int64
		all := make(chan struct{})
		want := int64(b.N) * followers
		start(b, m, sid, func() {
			if delivered.Add(1) == want {
				close(all)
			}
		})
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := m.Append(context.Background(), sid, events.ResponseDelta, benchData, exp); err != nil {
				b.Fatal(err)
			}
		}
		<-all
	})
}
