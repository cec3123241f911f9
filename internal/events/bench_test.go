package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
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
