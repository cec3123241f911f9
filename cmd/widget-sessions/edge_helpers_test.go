package main

// What the widget-edge tests share: the widget's calls (its session, a
// message, a stream ticket, the stream), and checks of what a stream shows.

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/events"
)

// bearer is the Authorization header of a token.
func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// streamURL is the stream of session sid.
func (s *testServer) streamURL(sid string) string {
	return s.public + "/v1/widget/sessions/" + sid + "/stream"
}

// widgetSessionInfo is the body of GET /v1/widget/session.
type widgetSessionInfo struct {
	SessionID, UserID, TenantID, ExpiresAt, ContextStatus string
	Incident                                              *struct {
		ID, Title, Severity, Status, SuspectedCause string
	}
}

// widgetSession gets GET /v1/widget/session with the session token.
func (s *testServer) widgetSession(t *testing.T, sessionToken string) response {
	t.Helper()
	return s.do(t, http.MethodGet, s.public+"/v1/widget/session", bearer(sessionToken), "")
}

// send posts content as a message of session sid.
func (s *testServer) send(t *testing.T, sid, sessionToken, content string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"content": content})
	h := bearer(sessionToken)
	h["Content-Type"] = "application/json"
	return s.do(t, http.MethodPost, s.public+"/v1/widget/sessions/"+sid+"/messages", h, string(body))
}

// mustSend sends a message, requires 202 and returns its messageId.
func (s *testServer) mustSend(t *testing.T, sid, sessionToken, content string) string {
	t.Helper()
	r := s.send(t, sid, sessionToken, content)
	var out struct{ MessageID string }
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &out) != nil || !strings.HasPrefix(out.MessageID, "msg_") {
		t.Fatalf("POST message: %d %s, want 202 with a messageId\nlog:\n%s", r.status, r.body, s.log)
	}
	return out.MessageID
}

// ticket gets a single-use stream ticket for session sid.
func (s *testServer) ticket(t *testing.T, sid, sessionToken string) string {
	t.Helper()
	r := s.do(t, http.MethodPost, s.public+"/v1/widget/sessions/"+sid+"/stream-tickets", bearer(sessionToken), "")
	var out struct {
		Ticket    string
		ExpiresIn int
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &out) != nil || out.Ticket == "" || out.ExpiresIn <= 0 {
		t.Fatalf("POST stream-tickets: %d %s, want 201 with a ticket", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("stream ticket: Cache-Control %q, want no-store", cc)
	}
	return out.Ticket
}

// replyData is what the reply's events carry (message.created,
// response.delta, response.completed and error share these names).
type replyData struct {
	MessageID, InReplyTo, Role, Content, Delta, Code string
	Index                                            int
}

func (e sseEvent) reply(t testing.TB) replyData {
	t.Helper()
	var d replyData
	e.decode(t, &d)
	return d
}

// replyEnded is a stop condition for sseStream.until: the reply to msgID
// completed, or failed.
func replyEnded(t testing.TB, msgID string) func(sseEvent) bool {
	return func(e sseEvent) bool {
		return (e.Type == events.ResponseCompleted || e.Type == events.Error) && e.reply(t).InReplyTo == msgID
	}
}

// checkReply checks, in evs, the whole exchange of message msgID: its
// message.created with the user's content, then several response.delta
// numbered from 0 with no gap, then a response.completed whose content is
// the deltas joined. It returns that content.
func checkReply(t testing.TB, evs []sseEvent, msgID, question string) string {
	t.Helper()
	created, completed := -1, -1
	var deltas []string
	var joined strings.Builder
	for i, e := range evs {
		d := e.reply(t)
		switch {
		case e.Type == events.MessageCreated && d.MessageID == msgID:
			created = i
			if d.Role != "user" || d.Content != question {
				t.Errorf("message.created %s: role %q content %q, want user %q", e.ID, d.Role, d.Content, question)
			}
		case e.Type == events.ResponseDelta && d.InReplyTo == msgID:
			if created < 0 || completed >= 0 {
				t.Errorf("response.delta %s outside its message.created … response.completed", e.ID)
			}
			if d.Index != len(deltas) {
				t.Errorf("response.delta %s: index %d, want %d (no gap, no repeat)", e.ID, d.Index, len(deltas))
			}
			deltas = append(deltas, d.Delta)
			joined.WriteString(d.Delta)
		case e.Type == events.ResponseCompleted && d.InReplyTo == msgID:
			completed = i
			if d.Content != joined.String() {
				t.Errorf("response.completed content %q, want the deltas joined %q", d.Content, joined.String())
			}
		case e.Type == events.Error && d.InReplyTo == msgID:
			t.Errorf("error event %s in reply to %s: %s", e.ID, msgID, e.Data)
		}
	}
	if created < 0 || completed < 0 || len(deltas) < 2 {
		t.Fatalf("reply to %s incomplete: message.created at %d, %d deltas, response.completed at %d: %s",
			msgID, created, len(deltas), completed, summary(evs))
	}
	return joined.String()
}

// checkOrdered fails unless the event ids strictly increase: no duplicate,
// nothing out of order.
func checkOrdered(t testing.TB, evs []sseEvent) {
	t.Helper()
	var prev events.ID
	for i, e := range evs {
		id, err := events.ParseID(e.ID)
		if err != nil {
			t.Fatalf("event %d (%s): id %q: %v", i, e.Type, e.ID, err)
		}
		if i > 0 && id.Compare(prev) <= 0 {
			t.Fatalf("event %d: id %s after %s: duplicated or out of order: %s", i, e.ID, prev, summary(evs))
		}
		prev = id
	}
}

// sameSequence fails unless got is exactly want: the same ids, types and
// data, in the same order.
func sameSequence(t testing.TB, got, want []sseEvent) {
	t.Helper()
	checkOrdered(t, got)
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || g.Data != w.Data {
			t.Fatalf("event %d: got %s %s %s, want %s %s %s\ngot  %s\nwant %s",
				i, g.ID, g.Type, g.Data, w.ID, w.Type, w.Data, summary(got), summary(want))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d\ngot  %s\nwant %s", len(got), len(want), summary(got), summary(want))
	}
}
