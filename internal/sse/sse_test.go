package sse_test

import (
	"bufio"
	"errors"
	"github.com/causeflow/widget-sessions/internal/wait"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/sse"
)

// TestWriter pins the bytes on the wire: fields, one data line per line of
// data, a blank line after each block, and no field broken by a newline.
func TestWriter(t *testing.T) {
	rec := httptest.NewRecorder()
	w := sse.NewWriter(rec, time.Second)
	steps := []func() error{
		func() error { return w.Comment("stream wsess_1") },
		func() error { return w.Event("1-0", "message.created", []byte(`{"a":1}`)) },
		func() error { return w.Event("", "error", []byte("two\nlines")) },
		func() error { return w.Event("2-0\nevent: forged", "x", []byte(`{}`)) },
		func() error { return w.Retry(250 * time.Millisecond) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	want := ": stream wsess_1\n\n" +
		"id: 1-0\nevent: message.created\ndata: {\"a\":1}\n\n" +
		"event: error\ndata: two\ndata: lines\n\n" +
		"id: 2-0 event: forged\nevent: x\ndata: {}\n\n" +
		"retry: 250\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("wire:\n%q\nwant\n%q", got, want)
	}
	if !rec.Flushed {
		t.Error("nothing was flushed")
	}
}

// TestRoundTrip: what the Writer writes, the Reader reads back.
func TestRoundTrip(t *testing.T) {
	rec := httptest.NewRecorder()
	w := sse.NewWriter(rec, 0)
	_ = w.Event("7-1", "response.delta", []byte(`{"delta":"hi"}`))
	_ = w.Comment("ping")
	_ = w.Event("", "error", []byte("a\nb"))
	r := sse.NewReader(strings.NewReader(rec.Body.String()), 1<<10)
	want := []sse.Event{
		{ID: "7-1", Type: "response.delta", Data: []byte(`{"delta":"hi"}`), HasData: true},
		{Comment: "ping"},
		{Type: "error", Data: []byte("a\nb"), HasData: true},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil || got.ID != w.ID || got.Type != w.Type || string(got.Data) != string(w.Data) || got.Comment != w.Comment || got.HasData != w.HasData {
			t.Fatalf("block %d = %+v, %v; want %+v", i, got, err, w)
		}
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last block: %v, want io.EOF", err)
	}
}

// TestReader: what servers send, as the format reads it.
func TestReader(t *testing.T) {
	cases := []struct {
		name, in string
		data     []string // the data of each block read, "-" for a block without data
		err      error
	}{
		{"CRLF lines", "data: a\r\n\r\ndata: b\r\n\r\n", []string{"a", "b"}, io.EOF},
		{"no space after the colon", "data:x\n\n", []string{"x"}, io.EOF},
		{"a last block without its blank line", "data: [DONE]\n", []string{"[DONE]"}, io.EOF},
		{"blank lines between blocks", "\n\n\ndata: a\n\n\n", []string{"a"}, io.EOF},
		{"retry and unknown fields skipped", "retry: 10\nfoo: bar\ndata: a\n\n", []string{"a"}, io.EOF},
		{"a comment alone", ": keep-alive\n\n", []string{"-"}, io.EOF},
		{"empty data is still data", "data:\n\n", []string{""}, io.EOF},
		{"a line too long", "data: " + strings.Repeat("x", 100) + "\n\n", nil, sse.ErrTooLong},
		{"an event too large", strings.Repeat("data: xxxxxxxxxx\n", 10) + "\n", nil, sse.ErrTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sse.NewReader(strings.NewReader(tc.in), 64)
			var got []string
			for {
				e, err := r.Next()
				if err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("error %v, want %v", err, tc.err)
					}
					break
				}
				if e.HasData {
					got = append(got, string(e.Data))
				} else {
					got = append(got, "-")
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.data, "|") {
				t.Errorf("data %q, want %q", got, tc.data)
			}
		})
	}
}

// TestHijack: a hijacked stream writes its head and events straight to the
// connection, outlives its handler, and Alive tells when the client left.
func TestHijack(t *testing.T) {
	conns := make(chan net.Conn, 1)
	writers := make(chan *sse.Writer, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Request-Id", "req_1")
		out, conn, err := sse.Hijack(w, time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		conns <- conn
		writers <- out
	}))
	defer srv.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	conn, out := <-conns, <-writers // the handler has returned
	defer conn.Close()
	if err := out.Event("1-0", "message.created", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !resp.Close || resp.Header.Get("X-Request-Id") != "req_1" ||
		resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Date") == "" {
		t.Fatalf("head: %d %v", resp.StatusCode, resp.Header)
	}
	ev, err := sse.NewReader(resp.Body, 1<<10).Next()
	if err != nil || ev.ID != "1-0" || ev.Type != "message.created" || string(ev.Data) != `{"a":1}` {
		t.Fatalf("event %+v, %v", ev, err)
	}
	if !sse.Alive(conn) {
		t.Fatal("Alive = false with the client there")
	}
	c.Close()
	wait.For(t, "Alive false once the client closed", func() bool { return !sse.Alive(conn) })
}

// TestHijackRefused: a response that cannot be hijacked is left untouched.
func TestHijackRefused(t *testing.T) {
	rec := httptest.NewRecorder()
	if _, _, err := sse.Hijack(rec, time.Second); !errors.Is(err, sse.ErrNotHijackable) {
		t.Fatalf("Hijack(recorder) = %v; want ErrNotHijackable", err)
	}
	if rec.Body.Len() != 0 || rec.Flushed {
		t.Fatal("a refused hijack wrote")
	}
}
