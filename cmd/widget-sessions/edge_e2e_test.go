package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/demo"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/incident"
)

// causeQuestion asks the embedded assistant for the suspected cause.
const causeQuestion = "What is the suspected cause?"

// demoIncident returns incident id of tenant demo from the embedded demo
// incidents, as the server reads them.
func demoIncident(t *testing.T, id string) incident.Incident {
	t.Helper()
	f, err := incident.ParseFile(demo.Incidents())
	if err != nil {
		t.Fatal(err)
	}
	inc, err := f.Incident(t.Context(), "demo", id)
	if err != nil {
		t.Fatalf("demo incident %s: %v", id, err)
	}
	return inc
}

// TestEdgeEmbeddedDefault is the widget's whole flow on the embedded
// default, with no settings at all: mint for the demo incident, load the
// session and its incident context, open the stream with a ticket (as
// EventSource must), send a message and read the assistant's streamed
// answer, which names the demo incident's suspected cause.
func TestEdgeEmbeddedDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin := devToken(t, s, "demo", "user_alice", "admin")
	inc := demoIncident(t, "inc_EXAMPLE_01JX")
	sess := s.mintCreated(t, admin, readmeBody)

	r := s.widgetSession(t, sess.SessionToken)
	var info widgetSessionInfo
	if r.status != http.StatusOK || json.Unmarshal(r.body, &info) != nil {
		t.Fatalf("GET /v1/widget/session: %d %s, want 200", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET /v1/widget/session: Cache-Control %q, want no-store", cc)
	}
	if info.SessionID != sess.SessionID || info.UserID != "user_alice" || info.TenantID != "demo" || info.ExpiresAt != sess.ExpiresAt {
		t.Errorf("session %+v, want %s of user_alice in demo expiring %s", info, sess.SessionID, sess.ExpiresAt)
	}
	if info.ContextStatus != "loaded" || info.Incident == nil ||
		info.Incident.ID != inc.ID || info.Incident.Title != inc.Title || info.Incident.Severity != inc.Severity {
		t.Fatalf("incident context %s, want loaded %q (%s)", r.body, inc.Title, inc.Severity)
	}

	tk := s.ticket(t, sess.SessionID, sess.SessionToken)
	client := streamClient(t)
	st := mustOpenStream(t, client, s.streamURL(sess.SessionID)+"?ticket="+url.QueryEscape(tk), nil)
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := st.header.Get(h); !strings.HasPrefix(got, want) {
			t.Errorf("stream: %s %q, want %q", h, got, want)
		}
	}

	id := s.mustSend(t, sess.SessionID, sess.SessionToken, causeQuestion)
	evs := st.until(t, streamWait, replyEnded(t, id))
	checkOrdered(t, evs)
	if evs[0].Type != events.MessageCreated {
		t.Errorf("first event %s, want %s", evs[0].Type, events.MessageCreated)
	}
	answer := checkReply(t, evs, id, causeQuestion)
	if !strings.Contains(answer, inc.SuspectedCause) {
		t.Errorf("the answer does not state the suspected cause %q:\n%s", inc.SuspectedCause, answer)
	}
	t.Logf("%d events; answer in %d deltas", len(evs), len(evs)-2)

	t.Run("a ticket is single-use", func(t *testing.T) {
		_, r := openStream(t, client, s.streamURL(sess.SessionID)+"?ticket="+url.QueryEscape(tk), nil)
		if r.status != http.StatusUnauthorized || r.code() != "unauthorized" {
			t.Errorf("reused ticket: %d %s, want 401 unauthorized", r.status, r.body)
		}
	})
	t.Run("resume with Last-Event-ID repeats nothing", func(t *testing.T) {
		mid := evs[len(evs)/2]
		st := mustOpenStream(t, client, s.streamURL(sess.SessionID),
			map[string]string{"Authorization": "Bearer " + sess.SessionToken, "Last-Event-ID": mid.ID})
		sameSequence(t, st.events(t, len(evs)-len(evs)/2-1, streamWait), evs[len(evs)/2+1:])
	})
	t.Run("a new ticket with lastEventId resumes, as the widget does after a drop", func(t *testing.T) {
		// EventSource's own reconnect would replay the used ticket (401);
		// the README has the widget fetch a new one and name its last id.
		mid := evs[len(evs)/2]
		tk := s.ticket(t, sess.SessionID, sess.SessionToken)
		st := mustOpenStream(t, client, s.streamURL(sess.SessionID)+"?ticket="+url.QueryEscape(tk)+"&lastEventId="+mid.ID, nil)
		sameSequence(t, st.events(t, len(evs)-len(evs)/2-1, streamWait), evs[len(evs)/2+1:])
	})
	t.Run("an unknown incident is not minted", func(t *testing.T) {
		r := s.mint(t, admin, `{"userId": "user_alice", "incidentId": "inc_nope"}`)
		if r.status != http.StatusNotFound || r.code() != "incident_not_found" {
			t.Errorf("incidentId inc_nope: %d %s, want 404 incident_not_found", r.status, r.body)
		}
	})
	t.Run("no token, no stream", func(t *testing.T) {
		_, r := openStream(t, client, s.streamURL(sess.SessionID), nil)
		if r.status != http.StatusUnauthorized {
			t.Errorf("stream without token or ticket: %d %s, want 401", r.status, r.body)
		}
	})

	s.stop(t) // the whole log, streams drained
	assertNotInLog(t, s.log.String(), map[string]string{"the stream ticket": tk, "the session token": sess.SessionToken})
}
