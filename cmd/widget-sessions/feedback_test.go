package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/wait"
)

// rate posts a rating of answer msg of session sid.
func (s *testServer) rate(t *testing.T, sid, sessionToken, msg, body string) response {
	t.Helper()
	h := bearer(sessionToken)
	h["Content-Type"] = "application/json"
	return s.do(t, http.MethodPost, s.public+"/v1/widget/sessions/"+sid+"/messages/"+msg+"/feedback", h, body)
}

// TestFeedback: a thumbs down with a reason on a finished answer is 201,
// shows on the open stream as feedback.created and on a stream opened
// afresh (a widget resumed later), is counted on /metrics by rating, and
// is audited with its rating but never its reason. Another session's
// answer, a question's id, and a body that is not the schema are refused.
func TestFeedback(t *testing.T) {
	t.Parallel()
	trail := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startServer(t, map[string]string{"WIDGET_AUDIT_LOG": trail})
	caller := devToken(t, s, "demo", "backend", "admin")
	sess := s.mintCreated(t, caller, `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`)
	other := s.mintCreated(t, caller, `{"userId":"user_bob","incidentId":"inc_EXAMPLE_01JX"}`)
	client := streamClient(t)
	st := mustOpenStream(t, client, s.streamURL(sess.SessionID), bearer(sess.SessionToken))

	q := s.mustSend(t, sess.SessionID, sess.SessionToken, "What is the suspected cause?")
	evs := st.until(t, 10*time.Second, replyEnded(t, q))
	answer := evs[len(evs)-1].reply(t).MessageID
	if evs[len(evs)-1].Type != events.ResponseCompleted {
		t.Fatalf("the reply ended with %s", summary(evs))
	}

	const reason = "It named the wrong service: user_alice's secret words"
	r := s.rate(t, sess.SessionID, sess.SessionToken, answer, `{"rating":"down","reason":"`+reason+`"}`)
	var f struct {
		MessageID, Rating, Reason string
		CreatedAt                 time.Time
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &f) != nil || f.MessageID != answer || f.Rating != "down" || f.Reason != reason || f.CreatedAt.IsZero() {
		t.Fatalf("POST feedback: %d %s", r.status, r.body)
	}
	ev, ok := st.nextEvent(t, 5*time.Second)
	if !ok || ev.Type != events.FeedbackCreated || ev.ID == "" || !strings.Contains(ev.Data, `"rating":"down"`) || !strings.Contains(ev.Data, answer) {
		t.Fatalf("the open stream shows %+v (%v), want feedback.created", ev, ok)
	}
	if r := s.rate(t, sess.SessionID, sess.SessionToken, answer, `{"rating":"up"}`); r.status != http.StatusCreated || strings.Contains(string(r.body), "reason") {
		t.Fatalf("changing the rating: %d %s", r.status, r.body)
	}

	// A widget opened later replays the log: both ratings, in order.
	again := mustOpenStream(t, client, s.streamURL(sess.SessionID), bearer(sess.SessionToken))
	var ratings []string
	again.until(t, 5*time.Second, func(e sseEvent) bool {
		if e.Type == events.FeedbackCreated {
			var d struct{ Rating string }
			e.decode(t, &d)
			ratings = append(ratings, d.Rating)
		}
		return len(ratings) == 2
	})
	if strings.Join(ratings, ",") != "down,up" {
		t.Errorf("a resumed stream shows ratings %v, want down,up", ratings)
	}

	for _, tc := range []struct {
		name, sid, token, msg, body string
		status                      int
		code                        string
	}{
		{"the question, not an answer", sess.SessionID, sess.SessionToken, q, `{"rating":"up"}`, 404, "not_found"},
		{"an answer of another session", other.SessionID, other.SessionToken, answer, `{"rating":"up"}`, 404, "not_found"},
		{"another session's token", sess.SessionID, other.SessionToken, answer, `{"rating":"up"}`, 403, "forbidden"},
		{"no rating", sess.SessionID, sess.SessionToken, answer, `{"reason":"meh"}`, 400, "validation_error"},
		{"a rating of 5 stars", sess.SessionID, sess.SessionToken, answer, `{"rating":5}`, 400, "validation_error"},
		{"an unknown member", sess.SessionID, sess.SessionToken, answer, `{"rating":"up","stars":5}`, 400, "validation_error"},
		{"a reason too long", sess.SessionID, sess.SessionToken, answer, `{"rating":"down","reason":"` + strings.Repeat("x", 501) + `"}`, 400, "validation_error"},
	} {
		if r := s.rate(t, tc.sid, tc.token, tc.msg, tc.body); r.status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
	}

	m := string(s.get(t, s.internal+"/metrics").body)
	for _, want := range []string{`widget_sessions_feedback_total{rating="down"} 1`, `widget_sessions_feedback_total{rating="up"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	s.stop(t)
	var rated []auditLine
	for _, l := range readAudit(t, trail) {
		if l.Event == "response.rated" {
			rated = append(rated, l)
		}
	}
	if len(rated) != 2 || rated[0].Rating != "down" || rated[1].Rating != "up" || rated[0].Actor.Kind != "session" ||
		rated[0].Actor.Subject != "user_alice" || rated[0].Target.Session != sess.SessionID || rated[0].Target.Message != answer || rated[0].Status != 201 {
		t.Errorf("audited ratings %+v, want down then up by user_alice on %s", rated, answer)
	}
	if raw, err := os.ReadFile(trail); err != nil || strings.Contains(string(raw), "secret words") {
		t.Error("the audit trail holds the user's reason")
	}
}

// TestMessageLocale: the locale the widget sends with a message reaches
// the model as the language to answer in; a tag that is not BCP 47 is a
// 400 naming locale, and the message is not accepted.
func TestMessageLocale(t *testing.T) {
	t.Parallel()
	model := &fakeModel{chunks: []string{"مرحبا"}}
	upstream := httptest.NewServer(model)
	defer upstream.Close()
	s := startServer(t, map[string]string{"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model"})
	caller := devToken(t, s, "demo", "backend", "admin")
	sess := s.mintCreated(t, caller, `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`)
	h := bearer(sess.SessionToken)
	h["Content-Type"] = "application/json"
	url := s.public + "/v1/widget/sessions/" + sess.SessionID + "/messages"
	if r := s.do(t, http.MethodPost, url, h, `{"content":"ما السبب؟","locale":"en_US"}`); r.status != 400 || !strings.Contains(string(r.body), `"field":"locale"`) {
		t.Errorf("locale en_US: %d %s, want 400 naming locale", r.status, r.body)
	}
	if r := s.do(t, http.MethodPost, url, h, `{"content":"ما السبب؟","locale":"ar"}`); r.status != http.StatusAccepted {
		t.Fatalf("POST message: %d %s", r.status, r.body)
	}
	var system []string
	wait.For(t, "the model asked", func() bool {
		model.mu.Lock()
		defer model.mu.Unlock()
		if len(model.requests) == 0 {
			return false
		}
		msgs, _ := model.requests[0]["messages"].([]any)
		for _, m := range msgs {
			if mm, _ := m.(map[string]any); mm["role"] == "system" {
				c, _ := mm["content"].(string)
				system = append(system, c)
			}
		}
		return true
	})
	if len(system) != 3 || !strings.HasPrefix(system[2], `The user reads Arabic (BCP 47 tag "ar")`) {
		t.Errorf("the model's system messages %q: want a third naming Arabic", system)
	}
	model.mu.Lock()
	n := len(model.requests)
	model.mu.Unlock()
	if n != 1 {
		t.Errorf("%d model requests, want 1: the refused message was answered", n)
	}
}
