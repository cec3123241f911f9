package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// How the stream tests read Server-Sent Events: from a live response of the
// fixture's server, frame by frame as they arrive, never by reading the
// body to its end (a stream does not end by itself).

// sseFrame is one block of an event stream, up to its blank line: an event
// (ID, Type, Data), a comment, a retry field, or several at once.
type sseFrame struct {
	ID, Type, Data string
	Comments       []string
	Retry          string
	hasID          bool
}

// isEvent reports whether the frame dispatches an event (it has data).
func (fr sseFrame) isEvent() bool { return fr.Type != "" || fr.Data != "" }

// errorCode is the code of an error event's data.
func (fr sseFrame) errorCode(t testing.TB) string {
	t.Helper()
	var d struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal([]byte(fr.Data), &d); err != nil {
		t.Fatalf("error event data %q: %v", fr.Data, err)
	}
	return d.Code
}

// sseStream is an open event stream. A goroutine parses the body and hands
// frames over frames; it closes frames at the end of the body, err telling
// why (io.EOF: the server ended the stream).
type sseStream struct {
	resp   *http.Response
	ctx    context.Context
	cancel context.CancelFunc
	frames chan sseFrame
	err    error // set before frames is closed
}

// streamOpts are the ways a test opens a stream.
type streamOpts struct {
	token       string // session token for the Authorization header
	ticket      string // stream ticket for the query
	lastEventID string // Last-Event-ID header
	query       string // extra raw query, e.g. "lastEventId=1-0"
}

// openStream opens GET .../sessions/{sid}/stream. When the server answers
// 200 it returns the live stream (closed at the end of the test); otherwise
// it returns the response, read in full, and a nil stream.
func (f *fixture) openStream(t testing.TB, sid string, o streamOpts) (*sseStream, response) {
	t.Helper()
	var q []string
	if o.ticket != "" {
		q = append(q, "ticket="+o.ticket)
	}
	if o.query != "" {
		q = append(q, o.query)
	}
	target := f.URL + widgetPath(sid, "stream")
	if len(q) > 0 {
		target += "?" + strings.Join(q, "&")
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	if o.lastEventID != "" {
		req.Header.Set("Last-Event-ID", o.lastEventID)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return nil, response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	}
	s := &sseStream{resp: resp, ctx: ctx, cancel: cancel, frames: make(chan sseFrame, 256)}
	go s.read()
	t.Cleanup(s.close)
	return s, response{Status: resp.StatusCode, Header: resp.Header}
}

// close drops the connection, as a browser closing the tab does.
func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

func (s *sseStream) read() {
	r := bufio.NewReader(s.resp.Body)
	var fr sseFrame
	started := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF // a frame cut in the middle of a line
			}
			s.err = err
			close(s.frames)
			return
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if started {
				select {
				case s.frames <- fr:
				case <-s.ctx.Done(): // closed by the test: nobody reads any more
					return
				}
			}
			fr, started = sseFrame{}, false
			continue
		}
		started = true
		if c, ok := strings.CutPrefix(line, ":"); ok {
			fr.Comments = append(fr.Comments, strings.TrimPrefix(c, " "))
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			fr.ID, fr.hasID = value, true
		case "event":
			fr.Type = value
		case "data":
			if fr.Data != "" {
				fr.Data += "\n"
			}
			fr.Data += value
		case "retry":
			fr.Retry = value
		}
	}
}

// next returns the next frame, failing the test when none comes within
// wait or the stream ends.
func (s *sseStream) next(t testing.TB, wait time.Duration) sseFrame {
	t.Helper()
	select {
	case fr, ok := <-s.frames:
		if !ok {
			t.Fatalf("the stream ended (%v) while a frame was expected", s.err)
		}
		return fr
	case <-time.After(wait):
		t.Fatalf("no frame within %v", wait)
	}
	panic("unreachable")
}

// nextEvent returns the next event, skipping comments.
func (s *sseStream) nextEvent(t testing.TB, wait time.Duration) sseFrame {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if fr := s.next(t, time.Until(deadline)); fr.isEvent() {
			return fr
		}
	}
}

// events returns the next n events.
func (s *sseStream) events(t testing.TB, n int) []sseFrame {
	t.Helper()
	out := make([]sseFrame, 0, n)
	for range n {
		out = append(out, s.nextEvent(t, 5*time.Second))
	}
	return out
}

// reply returns the events up to and including the next
// response.completed or error event, all within 10s.
func (s *sseStream) reply(t testing.TB) []sseFrame {
	t.Helper()
	var out []sseFrame
	deadline := time.Now().Add(10 * time.Second)
	for {
		fr := s.nextEvent(t, time.Until(deadline))
		out = append(out, fr)
		if fr.Type == "response.completed" || fr.Type == "error" {
			return out
		}
	}
}

// untilEnd returns every frame up to the end of the stream, failing the
// test unless the server ends it cleanly within wait.
func (s *sseStream) untilEnd(t testing.TB, wait time.Duration) []sseFrame {
	t.Helper()
	var out []sseFrame
	timeout := time.After(wait)
	for {
		select {
		case fr, ok := <-s.frames:
			if !ok {
				if !errors.Is(s.err, io.EOF) {
					t.Fatalf("the stream ended with %v, want a clean end (EOF)", s.err)
				}
				return out
			}
			out = append(out, fr)
		case <-timeout:
			t.Fatalf("the stream did not end within %v; frames so far: %+v", wait, out)
		}
	}
}

// widgetPath is /v1/widget/sessions/{sid}/{suffix}.
func widgetPath(sid, suffix string) string { return "/v1/widget/sessions/" + sid + "/" + suffix }

// edge sends method path to the edge with session token tok (none when
// empty) and body as ctype (none when empty).
func (f *fixture) edge(t testing.TB, method, path, tok, ctype, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return f.do(t, req)
}

// send posts content as the session's message and returns its id.
func (f *fixture) send(t testing.TB, m mintResponse, content string) string {
	t.Helper()
	body, err := json.Marshal(map[string]string{"content": content})
	if err != nil {
		t.Fatal(err)
	}
	resp := f.edge(t, http.MethodPost, widgetPath(m.SessionID, "messages"), m.SessionToken, "application/json", string(body))
	if resp.Status != http.StatusAccepted {
		t.Fatalf("send: status %d, want 202: %s", resp.Status, resp.Body)
	}
	var v struct {
		MessageID string `json:"messageId"`
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil || !strings.HasPrefix(v.MessageID, "msg_") {
		t.Fatalf("send: body %s: want a msg_ id (%v)", resp.Body, err)
	}
	return v.MessageID
}

// ticket gets a stream ticket for the session.
func (f *fixture) ticket(t testing.TB, m mintResponse) string {
	t.Helper()
	resp := f.edge(t, http.MethodPost, widgetPath(m.SessionID, "stream-tickets"), m.SessionToken, "", "")
	if resp.Status != http.StatusCreated {
		t.Fatalf("ticket: status %d, want 201: %s", resp.Status, resp.Body)
	}
	var v struct {
		Ticket string `json:"ticket"`
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil || !strings.HasPrefix(v.Ticket, "wstk_") {
		t.Fatalf("ticket: body %s: want a wstk_ ticket (%v)", resp.Body, err)
	}
	return v.Ticket
}

// withIncident is a mint body for user_alice of demo with incident inc_1:
// the embedded assistant answers it at length.
const withIncident = `{"userId":"user_alice","incidentId":"inc_1"}`
