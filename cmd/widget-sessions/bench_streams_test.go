package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// streamsWanted is how many streams the load run holds, when the limit on
// open files allows.
const streamsWanted = 2000

// streamsToHold returns how many streams this process can hold: two
// descriptors each (client and server, both in process), and room for the
// rest.
func streamsToHold() int {
	lim := raiseOpenFiles()
	if lim == 0 {
		return 500
	}
	if lim < 512 {
		return int(lim / 4)
	}
	return min(streamsWanted, int((lim-256)/2))
}

// BenchmarkEdgeOpenStreams is a load run: it opens streamsToHold() streams
// (5 per session, the default cap) on a server in this process and reports
// what holding them costs: streams held, heap in use per stream, goroutine
// stacks per stream and goroutines per stream, each the growth from before
// the first stream to after the last divided by their number (both the
// server's and the client's side are in the process; the clients are bare
// TCP connections that send one request and read the first bytes, so
// nearly all of it is the server's). The baseline holds as many bare
// net/http responses (headers and one comment flushed, then a handler
// blocked until the client leaves): the floor any HTTP stream costs. The
// op is opening one more stream, up to its first bytes, while they are
// held, and closing it.
func BenchmarkEdgeOpenStreams(b *testing.B) {
	n := streamsToHold()
	b.Run("baseline=bare-net-http-held-response", func(b *testing.B) {
		hs := httptest.NewServer(http.HandlerFunc(heldResponse))
		b.Cleanup(hs.Close)
		addr := strings.TrimPrefix(hs.URL, "http://")
		measureHeld(b, n, func(int) net.Conn { return dialHeld(b, addr, "/held", "") })
	})
	for _, redis := range []bool{false, true} {
		name := "stream/memory-stores"
		env := map[string]string{"WIDGET_MAX_STREAMS_PER_CLIENT": "1000000"}
		if redis {
			name = "stream/redis-stores"
		}
		b.Run(name, func(b *testing.B) {
			if redis {
				env["WIDGET_REDIS_URL"] = redistest.Start(b).URL()
			}
			s := startBenchServer(b, env, false)
			const perSession, spare = 5, 64
			sessions := s.mintN(b, (n+perSession-1)/perSession+spare)
			held, extra := sessions[:len(sessions)-spare], sessions[len(sessions)-spare:]
			measureHeld(b, n, func(i int) net.Conn {
				sess := extra[0]
				if i < n {
					sess = held[i/perSession]
				} else {
					sess = extra[(i-n)%spare] // the op's streams rotate over spare sessions
				}
				return dialHeld(b, s.addr, "/v1/widget/sessions/"+sess.SessionID+"/stream", sess.SessionToken)
			})
		})
	}
}

// heldResponse is the baseline's handler: an event stream that says one
// comment and then only waits for its client to leave.
func heldResponse(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, ": open\n\n")
	_ = http.NewResponseController(w).Flush()
	<-r.Context().Done()
}

// measureHeld opens n connections with open(0..n-1), holding each, and
// reports their cost per connection; the op is open(n+i) and its close.
// Metrics are reported after the loop, which resets them when it starts.
func measureHeld(b *testing.B, n int, open func(i int) net.Conn) {
	conns := make([]net.Conn, 0, n)
	b.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	// Build what is built lazily (pools, caches, the first request's
	// paths) before measuring; let its goroutines end.
	open(n).Close()
	time.Sleep(100 * time.Millisecond)
	g0, m0 := settled()
	for i := range n {
		conns = append(conns, open(i))
	}
	g1, m1 := settled()
	heap := float64(int64(m1.HeapInuse)-int64(m0.HeapInuse)) / float64(n)
	stack := float64(int64(m1.StackInuse)-int64(m0.StackInuse)) / float64(n)
	goroutines := float64(g1-g0) / float64(n)

	i := 1
	for b.Loop() {
		open(n + i).Close()
		i++
	}
	b.ReportMetric(float64(n), "streams")
	b.ReportMetric(heap, "heap-B/stream")
	b.ReportMetric(stack, "stack-B/stream")
	b.ReportMetric(goroutines, "goroutines/stream")
}

// settled collects garbage and returns the number of goroutines and the
// memory statistics.
func settled() (int, runtime.MemStats) {
	runtime.GC()
	runtime.GC() // the second frees what the first's finalizers let go
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m
}

// dialHeld opens a TCP connection, sends GET path (with the session
// token, when given) and reads until the response's headers and its first
// event-stream block have arrived, as little client as can hold a stream.
func dialHeld(tb testing.TB, addr, path, sessionToken string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n"
	if sessionToken != "" {
		req += "Authorization: Bearer " + sessionToken + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2048)
	got := 0
	for {
		k, err := c.Read(buf[got:])
		got += k
		if i := bytes.Index(buf[:got], []byte("\r\n\r\n")); i >= 0 {
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
				tb.Fatalf("GET %s: %s", path, buf[:got])
			}
			if bytes.Contains(buf[i+4:got], []byte("\n\n")) {
				break
			}
		}
		if err != nil || got == len(buf) {
			tb.Fatalf("GET %s: %v after %q", path, err, buf[:got])
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}
