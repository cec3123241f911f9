package main

// An incremental Server-Sent Events client for the end-to-end tests: it
// reads a stream as a browser's EventSource would, one block at a time,
// timestamps each block when it is parsed, and lets a test wait, with a
// bound, for the next event, for a given one, or for the end of the stream.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// streamWait bounds every wait on a stream: generous (-race on a busy CI
// machine), and a limit on waiting, never a timing assertion.
const streamWait = 15 * time.Second

// sseEvent is one block of a stream: an event (Type and Data), a retry
// field, or a comment.
type sseEvent struct {
	ID, Type, Data string
	Retry          string // the retry field's value, when the block had one
	Comment        string
	At             time.Time // when the client parsed the block
}

// isEvent reports whether the block is an event rather than a comment or
// a bare retry field.
func (e sseEvent) isEvent() bool { return e.Type != "" || e.Data != "" }

// decode unmarshals the event's data.
func (e sseEvent) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(e.Data), v); err != nil {
		t.Fatalf("event %s %s: data %q: %v", e.ID, e.Type, e.Data, err)
	}
}

// sseStream is an open stream. A goroutine parses it into blocks; blocks
// is closed at the end of the body, err then telling why (nil = EOF).
type sseStream struct {
	resp   *http.Response
	blocks chan sseEvent
	err    error
	cancel context.CancelFunc
	header http.Header
}

// streamClient returns an HTTP client for streams: no overall timeout (a
// stream lasts), its own connections, closed when the test ends.
func streamClient(t testing.TB) *http.Client {
	tr := &http.Transport{ResponseHeaderTimeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// openStream sends GET url with hdr. On 200 it returns the stream (closed
// when the test ends); otherwise it returns nil and the response read whole.
func openStream(t testing.TB, client *http.Client, url string, hdr map[string]string) (*sseStream, response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", redactQuery(url), err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return nil, response{status: resp.StatusCode, header: resp.Header, body: b}
	}
	s := &sseStream{resp: resp, blocks: make(chan sseEvent, 4096), cancel: cancel, header: resp.Header}
	go s.read()
	t.Cleanup(s.close)
	return s, response{status: resp.StatusCode, header: resp.Header}
}

// redactQuery drops a URL's query (a stream ticket) from messages.
func redactQuery(url string) string {
	u, _, _ := strings.Cut(url, "?")
	return u
}

// mustOpenStream opens a stream and requires 200.
func mustOpenStream(t testing.TB, client *http.Client, url string, hdr map[string]string) *sseStream {
	t.Helper()
	s, r := openStream(t, client, url, hdr)
	if s == nil {
		t.Fatalf("GET %s: status %d, want 200; body %s", redactQuery(url), r.status, r.body)
	}
	return s
}

// read parses the body into blocks, per the SSE specification: lines end
// with \n (or \r\n), a blank line ends a block, ":" starts a comment, and
// one space after a field's colon is dropped.
func (s *sseStream) read() {
	defer close(s.blocks)
	br := bufio.NewReader(s.resp.Body)
	var b sseEvent
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				s.err = err
			}
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if len(data) > 0 {
				b.Data = strings.Join(data, "\n")
			}
			if b.isEvent() || b.Retry != "" || b.Comment != "" {
				b.At = time.Now()
				s.blocks <- b
			}
			b, data = sseEvent{}, nil
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "":
			b.Comment = value
		case "id":
			b.ID = value
		case "event":
			b.Type = value
		case "data":
			data = append(data, value)
		case "retry":
			b.Retry = value
		}
	}
}

// close drops the connection, as a browser tab that goes away does.
func (s *sseStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// next returns the next block of any kind, or false at the end of the
// stream; it fails the test when none comes within d.
func (s *sseStream) next(t testing.TB, d time.Duration) (sseEvent, bool) {
	t.Helper()
	select { // what has arrived already, even when d has run out
	case b, ok := <-s.blocks:
		return b, ok
	default:
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case b, ok := <-s.blocks:
		return b, ok
	case <-timer.C:
		t.Fatalf("no block on the stream within %v", d)
		return sseEvent{}, false
	}
}

// nextEvent returns the next event, skipping comments and bare retry
// fields, or false at the end of the stream. d bounds the whole wait.
func (s *sseStream) nextEvent(t testing.TB, d time.Duration) (sseEvent, bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, ok := s.next(t, time.Until(deadline))
		if !ok || b.isEvent() {
			return b, ok
		}
	}
}

// events returns the next n events; it fails the test if the stream ends
// first or they do not all come within d.
func (s *sseStream) events(t testing.TB, n int, d time.Duration) []sseEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	var out []sseEvent
	for len(out) < n {
		e, ok := s.nextEvent(t, time.Until(deadline))
		if !ok {
			t.Fatalf("the stream ended after %d of %d events (err %v): %s", len(out), n, s.err, summary(out))
		}
		out = append(out, e)
	}
	return out
}

// until returns the events up to and including the first for which stop
// is true; it fails the test if the stream ends first or none comes
// within d.
func (s *sseStream) until(t testing.TB, d time.Duration, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	var out []sseEvent
	for {
		e, ok := s.nextEvent(t, time.Until(deadline))
		if !ok {
			t.Fatalf("the stream ended (err %v) before the awaited event: %s", s.err, summary(out))
		}
		out = append(out, e)
		if stop(e) {
			return out
		}
	}
}

// rest returns every block left, up to the end of the stream; it fails
// the test if the stream has not ended within d.
func (s *sseStream) rest(t testing.TB, d time.Duration) []sseEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	var out []sseEvent
	for {
		b, ok := s.next(t, time.Until(deadline))
		if !ok {
			return out
		}
		out = append(out, b)
	}
}

// summary lists events as "id type" for failure messages.
func summary(evs []sseEvent) string {
	var b strings.Builder
	for i, e := range evs {
		if i > 0 {
			b.WriteString(", ")
		}
		switch {
		case e.isEvent():
			b.WriteString(e.ID + " " + e.Type)
		case e.Retry != "":
			b.WriteString("retry: " + e.Retry)
		default:
			b.WriteString(": " + e.Comment)
		}
	}
	return "[" + b.String() + "]"
}
