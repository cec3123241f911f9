package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// conversationLength is how many messages a benchmark sends in one session
// before it moves to a new one: a conversation, not an ever-growing history
// the assistant re-reads on every message.
const conversationLength = 10

// BenchmarkEdgeFirstDelta measures the latency from a message accepted
// (its 202 received) to the first response.delta of its answer on a stream
// of the session already open, as a widget sees it: the reply starting,
// reading the conversation and the incident context, appending the delta,
// the stream's follower waking and reading it, and the SSE write and read.
// It reports the median over the iterations as ns/first-delta (and the
// 90th percentile; and, since the answer often starts before the 202
// arrives, the median from the request sent, from-send-ns/first-delta),
// next to a baseline in the same run: a bare event-log
// Append → delivery on a stream of the same log (from the call to Append to
// the event leaving the stream's Next). One iteration is one message and its whole
// answer, one at a time, on the memory stores, on Redis with one replica,
// and on Redis with the message taken by replica A and streamed by B.
// ns/op (the time of a whole answer) is left out: the assistant here has
// no pause between deltas (see startBenchServer), so it means nothing.
func BenchmarkEdgeFirstDelta(b *testing.B) {
	b.Run("memory/baseline=log-append-to-follow", func(b *testing.B) {
		log, err := events.NewMemory(events.MemoryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		benchAppendFollow(b, log, log)
	})
	b.Run("memory/message-to-first-delta", func(b *testing.B) {
		s := startBenchServer(b, nil, true)
		benchFirstDelta(b, s, s)
	})

	rds := redistest.Start(b)
	b.Run("redis/baseline=log-append-to-follow", func(b *testing.B) {
		log := startRedisLog(b, rds.URL())
		benchAppendFollow(b, log, log)
	})
	b.Run("redis/message-to-first-delta", func(b *testing.B) {
		s := startBenchServer(b, newCluster(b, rds.URL(), nil).env, true)
		benchFirstDelta(b, s, s)
	})
	b.Run("redis-2-replicas/baseline=log-append-on-A-to-follow-on-B", func(b *testing.B) {
		benchAppendFollow(b, startRedisLog(b, rds.URL()), startRedisLog(b, rds.URL()))
	})
	b.Run("redis-2-replicas/message-on-A-to-first-delta-on-B", func(b *testing.B) {
		env := newCluster(b, rds.URL(), nil).env
		benchFirstDelta(b, startBenchServer(b, env, true), startBenchServer(b, env, true))
	})
}

// startRedisLog starts an event log on Redis with its own client, as a
// replica does.
func startRedisLog(b *testing.B, url string) *redisstore.EventLog {
	client, err := redis.NewClient(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = client.Close() })
	log, err := redisstore.NewEventLog(client, redisstore.EventLogConfig{Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := log.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = log.Close() })
	return log
}

// benchAppendFollow appends one event per iteration to a session of from
// and times its delivery to a stream of the session on to.
func benchAppendFollow(b *testing.B, from, to events.Log) {
	sid := eventstest.SID(b)
	exp := time.Now().Add(time.Hour)
	data := json.RawMessage(`{"messageId":"msg_x","inReplyTo":"msg_y","index":0,"delta":"Here is what I "}`)
	delivered := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- streamtest.Follow(ctx, streamtest.NewHub(b, to), sid, "", func(events.Event) {
			delivered <- time.Now()
		})
	}()
	b.Cleanup(func() { cancel(); <-done })

	var lat []time.Duration
	for b.Loop() {
		sent := time.Now()
		if _, err := from.Append(context.Background(), sid, events.ResponseDelta, data, exp); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-delivered:
			lat = append(lat, at.Sub(sent))
		case <-time.After(streamWait):
			b.Fatalf("an appended event was not delivered within %v", streamWait)
		}
	}
	reportLatency(b, lat, 0)
}

// benchFirstDelta sends one message per iteration to a and times, from its
// 202, the first delta of the answer on a stream of the session open on s.
// The answer is then read to its end, so the next message starts on a
// quiet session; every conversationLength messages it moves to a new
// session and stream.
func benchFirstDelta(b *testing.B, a, s *benchServer) {
	client := streamClient(b)
	var sess createSessionResponse
	var st *sseStream
	var lat, fromSend []time.Duration
	early, i := 0, 0
	for b.Loop() {
		if i%conversationLength == 0 {
			if st != nil {
				st.close()
			}
			sess = a.mintN(b, 1)[0]
			st = mustOpenStream(b, client, s.url+"/v1/widget/sessions/"+sess.SessionID+"/stream", bearer(sess.SessionToken))
		}
		i++
		sent := time.Now()
		id := a.send(b, sess, causeQuestion)
		accepted := time.Now()
		var first time.Time
		st.until(b, streamWait, func(e sseEvent) bool {
			d := e.reply(b)
			if e.Type == events.ResponseDelta && d.InReplyTo == id && first.IsZero() {
				first = e.At
			}
			if e.Type == events.Error {
				b.Fatalf("error event: %s", e.Data)
			}
			return e.Type == events.ResponseCompleted && d.InReplyTo == id
		})
		if first.Before(accepted) {
			early++ // the delta came before the 202: no added latency
		}
		lat = append(lat, max(first.Sub(accepted), 0))
		fromSend = append(fromSend, first.Sub(sent))
	}
	reportLatency(b, lat, early)
	if len(fromSend) > 0 {
		slices.Sort(fromSend)
		b.ReportMetric(float64(fromSend[len(fromSend)/2].Nanoseconds()), "from-send-ns/first-delta")
	}
}

// reportLatency reports the median and the 90th percentile of lat, and the
// share of first deltas that arrived before their 202 (counted as 0 in
// lat: the answer had started before the widget heard that its message was
// accepted).
func reportLatency(b *testing.B, lat []time.Duration, early int) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "ns/first-delta")
	b.ReportMetric(float64(lat[len(lat)*9/10].Nanoseconds()), "p90-ns/first-delta")
	b.ReportMetric(float64(len(lat)), "samples")
	if early > 0 {
		b.ReportMetric(float64(early)/float64(len(lat)), "before-202-frac")
	}
}
