package stream_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
	"github.com/causeflow/widget-sessions/pkg/revoke"
)

var benchData = []byte(`{"text":"The checkout service's error rate rose at 14:02 "}`)

func newMemory(b *testing.B, maxLen int) *events.Memory {
	m, err := events.NewMemory(events.MemoryOptions{MaxLen: maxLen})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkFanOut delivers each appended event to 100 streams of
// one session (one follower). "paced": an op is one append and its delivery to all 100
// (the latency of a fan-out); "burst": appends as fast as they go, an op
// being one event delivered to all 100 (the throughput).
func BenchmarkFanOut(b *testing.B) {
	const followers = 100
	exp := time.Now().Add(time.Hour)
	start := func(b *testing.B, m *events.Memory, sid string, deliver func()) {
		h, err := stream.NewHub(m, revoke.NewMemory(time.Now, revoke.Limits{}), stream.Config{MaxPerSession: followers, MaxPerClient: followers})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(h.Close)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, followers)
		for range followers {
			st, err := h.Open(ctx, stream.Request{Claims: streamtest.Claims(sid), Client: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				defer func() { done <- struct{}{} }()
				defer st.Close()
				for {
					batch, err := st.Next(ctx)
					if err != nil {
						return
					}
					for range batch.Events {
						deliver()
					}
				}
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
		m := newMemory(b, 0)
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
		m := newMemory(b, b.N+1) // no event trimmed before it is read
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
