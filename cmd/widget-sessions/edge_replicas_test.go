package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// revokedStreamLimit is how soon a revocation must end an open stream on
// another replica: the mirror hears of it in milliseconds and pushes it to
// the streams (a bound to wait within, not a timing assertion).
const revokedStreamLimit = 2 * time.Second

// nextQuestion is a second message, asking for the next steps.
const nextQuestion = "What should we do next?"

// repliesEnded is a stop condition for sseStream.until: the replies to
// every one of ids have completed (or failed), in whatever order their
// events interleave.
func repliesEnded(t testing.TB, ids ...string) func(sseEvent) bool {
	left := map[string]bool{}
	for _, id := range ids {
		left[id] = true
	}
	return func(e sseEvent) bool {
		for id := range left {
			if replyEnded(t, id)(e) {
				delete(left, id)
			}
		}
		return len(left) == 0
	}
}

// TestEdgeTwoReplicas runs two replicas over one real redis-server, one
// signing key file and one identity provider: a message taken by A streams
// from B; B's stream, dropped after three events and resumed on B with
// Last-Event-ID after another message, shows exactly what it missed; B
// refuses another session's and another tenant's token; and a revocation on
// A ends B's open stream with a final error event.
func TestEdgeTwoReplicas(t *testing.T) {
	t.Parallel()
	edgeTwoReplicas(t, redistest.Start(t).URL())
}

// edgeTwoReplicas is TestEdgeTwoReplicas on the Redis at url (one server,
// a Cluster or Sentinel).
func edgeTwoReplicas(t *testing.T, redisURL string) {
	c := newCluster(t, redisURL, nil)
	a, b := startServer(t, c.env), startServer(t, c.env)
	demoAdmin := c.caller(t, "demo", "admin")
	sess := a.mintCreated(t, demoAdmin, readmeBody)
	sid, auth := sess.SessionID, bearer(sess.SessionToken)
	client := streamClient(t)
	inc := demoIncident(t, "inc_EXAMPLE_01JX")

	first := a.mustSend(t, sid, sess.SessionToken, causeQuestion)
	st := mustOpenStream(t, client, b.streamURL(sid), auth)
	head := st.events(t, 3, streamWait)
	st.close() // the connection drops after the third event

	second := a.mustSend(t, sid, sess.SessionToken, nextQuestion)
	resumed := mustOpenStream(t, client, b.streamURL(sid),
		map[string]string{"Authorization": auth["Authorization"], "Last-Event-ID": head[2].ID})
	tail := resumed.until(t, streamWait, repliesEnded(t, first, second))
	resumed.close()

	// The whole log, read afterwards from the start on a fresh stream.
	fresh := mustOpenStream(t, client, b.streamURL(sid), auth)
	full := fresh.until(t, streamWait, repliesEnded(t, first, second))
	fresh.close()
	if answer := checkReply(t, full, first, causeQuestion); !strings.Contains(answer, inc.SuspectedCause) {
		t.Errorf("the first answer does not state the suspected cause:\n%s", answer)
	}
	checkReply(t, full, second, nextQuestion)
	// No gap, no duplicate: what B showed before and after the drop is
	// exactly the log.
	sameSequence(t, append(head, tail...), full)
	t.Logf("%d events; %d before the drop, %d after the resume", len(full), len(head), len(tail))

	t.Run("a ticket issued on A opens the stream on B", func(t *testing.T) {
		tk := a.ticket(t, sid, sess.SessionToken)
		st := mustOpenStream(t, client, b.streamURL(sid)+"?ticket="+url.QueryEscape(tk), nil)
		defer st.close()
		sameSequence(t, st.events(t, len(full), streamWait), full)
	})
	t.Run("another session's token is refused", func(t *testing.T) {
		other := a.mintCreated(t, demoAdmin, `{"userId": "user_bob"}`)
		if _, r := openStream(t, client, b.streamURL(sid), bearer(other.SessionToken)); r.status != http.StatusForbidden || r.code() != "forbidden" {
			t.Errorf("stream of %s with a token of %s: %d %s, want 403 forbidden", sid, other.SessionID, r.status, r.body)
		}
		if r := b.send(t, sid, other.SessionToken, "hello"); r.status != http.StatusForbidden || r.code() != "forbidden" {
			t.Errorf("message to %s with a token of %s: %d %s, want 403 forbidden", sid, other.SessionID, r.status, r.body)
		}
		if r := b.do(t, http.MethodPost, b.public+"/v1/widget/sessions/"+sid+"/stream-tickets", bearer(other.SessionToken), ""); r.status != http.StatusForbidden {
			t.Errorf("ticket for %s with a token of %s: %d %s, want 403", sid, other.SessionID, r.status, r.body)
		}
	})
	t.Run("another tenant's token is refused", func(t *testing.T) {
		acme := a.mintCreated(t, c.caller(t, "acme", "admin"), `{"userId": "user_carol", "incidentId": "inc_ACME_CDN_01"}`)
		if _, r := openStream(t, client, b.streamURL(sid), bearer(acme.SessionToken)); r.status != http.StatusForbidden || r.code() != "forbidden" {
			t.Errorf("demo stream with an acme token: %d %s, want 403 forbidden", r.status, r.body)
		}
	})
	t.Run("revocation on A ends the stream on B", func(t *testing.T) {
		st := mustOpenStream(t, client, b.streamURL(sid),
			map[string]string{"Authorization": auth["Authorization"], "Last-Event-ID": full[len(full)-1].ID})
		if b, ok := st.next(t, streamWait); !ok || b.Comment == "" {
			t.Fatalf("the stream did not open with a comment: %+v", b)
		}
		a.mustRevoke(t, demoAdmin, "/v1/widget/sessions/"+sid)
		revoked := time.Now()
		rest := st.rest(t, revokedStreamLimit) // fails unless the stream ends within the limit
		ended := time.Since(revoked)
		var last *sseEvent
		for i := range rest {
			if rest[i].isEvent() {
				last = &rest[i]
			}
		}
		if last == nil || last.Type != events.Error || last.reply(t).Code != "session_revoked" || last.ID != "" {
			t.Fatalf("the stream ended with %s, want a final error event (no id) with code session_revoked", summary(rest))
		}
		t.Logf("B's stream ended %v after A acknowledged the revocation", ended)
		if _, r := openStream(t, client, b.streamURL(sid), auth); r.status != http.StatusUnauthorized {
			t.Errorf("a new stream of the revoked session: %d %s, want 401", r.status, r.body)
		}
	})
}

// TestEdgeOnlyReplica runs an edge replica (WIDGET_SERVE=edge) next to an
// API replica: with nothing of the API's but its JWKS URL and Redis, the
// edge validates the API's session tokens, takes messages and serves the
// stream, and does not mint.
func TestEdgeOnlyReplica(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	c := newCluster(t, rds.URL(), nil)
	a := startServer(t, c.env)
	e := startServer(t, map[string]string{
		"WIDGET_SERVE":     "edge",
		"WIDGET_EDGE_JWKS": a.public + "/.well-known/jwks.json",
		"WIDGET_REDIS_URL": rds.URL(),
	})
	demoAdmin := c.caller(t, "demo", "admin")
	sess := a.mintCreated(t, demoAdmin, readmeBody)
	client := streamClient(t)

	if r := e.widgetSession(t, sess.SessionToken); r.status != http.StatusOK || !strings.Contains(string(r.body), `"contextStatus":"loaded"`) {
		t.Fatalf("edge: GET /v1/widget/session: %d %s, want 200 with the context loaded\nlog:\n%s", r.status, r.body, e.log)
	}
	st := mustOpenStream(t, client, e.streamURL(sess.SessionID), bearer(sess.SessionToken))
	id := e.mustSend(t, sess.SessionID, sess.SessionToken, causeQuestion)
	evs := st.until(t, streamWait, replyEnded(t, id))
	checkReply(t, evs, id, causeQuestion)
	// The API replica's stream shows the same log.
	onA := mustOpenStream(t, client, a.streamURL(sess.SessionID), bearer(sess.SessionToken))
	sameSequence(t, onA.events(t, len(evs), streamWait), evs)

	if r := e.mint(t, demoAdmin, readmeBody); r.status != http.StatusNotFound {
		t.Errorf("edge: POST /v1/widget/sessions: %d %s, want 404", r.status, r.body)
	}
	if r := e.get(t, e.public+"/.well-known/jwks.json"); r.status != http.StatusNotFound {
		t.Errorf("edge: GET /.well-known/jwks.json: %d, want 404 (the API publishes the keys)", r.status)
	}
	// A signature the published keys do not verify is refused.
	tok := []byte(sess.SessionToken)
	i := len(tok) - 20
	tok[i] = map[bool]byte{true: 'B', false: 'A'}[tok[i] == 'A']
	if r := e.widgetSession(t, string(tok)); r.status != http.StatusUnauthorized {
		t.Errorf("edge: a tampered session token: %d %s, want 401", r.status, r.body)
	}
	if strings.Contains(e.log.String(), "signing keys loaded") {
		t.Error("the edge replica loaded signing keys")
	}
}

// TestAPIOnlyReplica: WIDGET_SERVE=api mounts the minting API and nothing
// of the edge. Its tokens are for an edge replica, which the API replica
// is not: the widget's endpoints, its page and its SDK are 404 here.
func TestAPIOnlyReplica(t *testing.T) {
	t.Parallel()
	a := startServer(t, map[string]string{"WIDGET_SERVE": "api"})
	sess := a.mintCreated(t, devToken(t, a, "demo", "admin_dana", "admin"), readmeBody)
	if r := a.get(t, a.public+"/.well-known/jwks.json"); r.status != http.StatusOK {
		t.Errorf("api: GET /.well-known/jwks.json: %d, want 200", r.status)
	}
	for name, r := range map[string]response{
		"GET /v1/widget/session": a.widgetSession(t, sess.SessionToken),
		"POST messages":          a.send(t, sess.SessionID, sess.SessionToken, causeQuestion),
		"GET stream":             a.do(t, http.MethodGet, a.streamURL(sess.SessionID), bearer(sess.SessionToken), ""),
		"GET /embed":             a.get(t, a.public+"/embed?session="+sess.SessionID),
		"GET /sdk.js":            a.get(t, a.public+"/sdk.js"),
	} {
		if r.status != http.StatusNotFound || r.code() != "not_found" {
			t.Errorf("api: %s: %d %s, want 404 not_found", name, r.status, r.body)
		}
	}
	if strings.Contains(a.log.String(), "assistant:") {
		t.Error("the API replica wired an assistant")
	}
}

// TestStopAcrossReplicas: a reply running on A is stopped by a request to
// B; the stream ends the reply with response.cancelled carrying exactly
// what had streamed, and no response.completed follows for it.
func TestStopAcrossReplicas(t *testing.T) {
	t.Parallel()
	// A model that answers slowly (60 chunks, 100 ms apart): the stop
	// always lands mid-answer, however loaded the machine.
	chunks := make([]string, 60)
	for i := range chunks {
		chunks[i] = fmt.Sprintf("part %d. ", i)
	}
	upstream := httptest.NewServer(&fakeModel{chunks: chunks, delay: 100 * time.Millisecond})
	defer upstream.Close()
	c := newCluster(t, redistest.Start(t).URL(), map[string]string{
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model",
	})
	a, b := startServer(t, c.env), startServer(t, c.env)
	sess := a.mintCreated(t, c.caller(t, "demo", "admin"), readmeBody)
	st := mustOpenStream(t, streamClient(t), b.streamURL(sess.SessionID), bearer(sess.SessionToken))
	msg := a.mustSend(t, sess.SessionID, sess.SessionToken, causeQuestion)
	var said strings.Builder
	var reply string
	for _, e := range st.until(t, streamWait, func(e sseEvent) bool { return e.Type == events.ResponseDelta }) {
		if e.Type == events.ResponseDelta {
			r := e.reply(t)
			said.WriteString(r.Delta)
			reply = r.MessageID
		}
	}
	r := b.do(t, http.MethodPost, b.public+"/v1/widget/sessions/"+sess.SessionID+"/messages/"+msg+"/stop", bearer(sess.SessionToken), "")
	if r.status != http.StatusNoContent {
		t.Fatalf("stop on B: %d %s", r.status, r.body)
	}
	end := st.until(t, streamWait, func(e sseEvent) bool {
		return e.Type == events.ResponseCancelled || e.Type == events.ResponseCompleted || e.Type == events.Error
	})
	for _, e := range end {
		if e.Type == events.ResponseDelta {
			said.WriteString(e.reply(t).Delta)
		}
	}
	last := end[len(end)-1]
	if last.Type != events.ResponseCancelled {
		t.Fatalf("the reply ended with %s %s, want response.cancelled", last.Type, last.Data)
	}
	if d := last.reply(t); d.InReplyTo != msg || d.MessageID != reply || d.Content != said.String() {
		t.Errorf("response.cancelled %s; want in reply to %s, reply %s, content %q (what streamed)", last.Data, msg, reply, said.String())
	}
}

// TestResetAcrossReplicas: Redis loses a session's log (here, its key is
// deleted, as an eviction or a failover without replicas would) after B's
// client saw part of a reply; the client's resume on B, with its
// Last-Event-ID, starts with stream.reset naming the oldest id the new log
// holds, then that whole log, and nothing of the lost one is replayed.
func TestResetAcrossReplicas(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := newCluster(t, srv.URL(), nil)
	a, b := startServer(t, c.env), startServer(t, c.env)
	sess := a.mintCreated(t, c.caller(t, "demo", "admin"), readmeBody)
	sid, auth := sess.SessionID, bearer(sess.SessionToken)
	client := streamClient(t)

	first := a.mustSend(t, sid, sess.SessionToken, causeQuestion)
	st := mustOpenStream(t, client, b.streamURL(sid), auth)
	seen := st.until(t, streamWait, repliesEnded(t, first))
	st.close()

	if _, err := srv.Command("DEL", "widget-test:events:{"+sid+"}"); err != nil {
		t.Fatal(err)
	}
	second := a.mustSend(t, sid, sess.SessionToken, nextQuestion)
	resumed := mustOpenStream(t, client, b.streamURL(sid),
		map[string]string{"Authorization": auth["Authorization"], "Last-Event-ID": seen[len(seen)-1].ID})
	got := resumed.until(t, streamWait, repliesEnded(t, second))
	resumed.close()
	var evs []sseEvent
	for _, e := range got {
		if e.isEvent() {
			evs = append(evs, e)
		}
	}
	if len(evs) < 2 || evs[0].Type != "stream.reset" || evs[0].ID != "" {
		t.Fatalf("the resume after the loss starts with %s; want stream.reset without an id", summary(evs))
	}
	var reset struct {
		OldestID string `json:"oldestId"`
	}
	evs[0].decode(t, &reset)
	if reset.OldestID != evs[1].ID {
		t.Fatalf("stream.reset names %q as the oldest id held; the log starts at %q", reset.OldestID, evs[1].ID)
	}
	checkReply(t, evs[1:], second, nextQuestion)
	for _, e := range evs[1:] {
		for _, old := range seen {
			if e.ID == old.ID {
				t.Fatalf("event %s of the lost log was replayed", e.ID)
			}
		}
	}
}
