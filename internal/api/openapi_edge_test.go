package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/segmentio/ksuid"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// TestEdgeConformsToSpec sends requests that produce every status the
// widget's four operations declare and validates the real responses,
// headers and bodies, against openapi.yaml; what the server accepted, the
// spec must accept too. The stream's 200 is a text/event-stream the
// validator cannot read: its declared headers are checked by hand.
func TestEdgeConformsToSpec(t *testing.T) {
	s := loadSpec(t)
	f := newFixture(t)
	limited := newFixture(t, withMessageLimit(1), withTicketMax(1), withSessionLimit(1))
	// down cannot tell whether a token is revoked: 503 on every operation.
	downRevs := newFakeRevocations()
	downRevs.isRevoked = func(*token.Claims) (bool, error) { return false, fmt.Errorf("test: mirror stale") }
	down := newFixture(t, withRevocations(downRevs))
	// broken panics in its revocation store: the unexpected failure, 500.
	brokenRevs := newFakeRevocations()
	brokenRevs.isRevoked = func(*token.Claims) (bool, error) { panic("revocation store exploded") }
	broken := newFixture(t, withRevocations(brokenRevs))

	m := f.mint(t, withIncident)
	plain := f.mint(t, `{"userId":"user_bob"}`)
	unavailable := f.mint(t, `{"userId":"user_alice","incidentId":"inc_down_1"}`)
	other := f.mint(t, `{"userId":"user_bob"}`)
	capped := f.mint(t, `{"userId":"user_alice"}`)
	lm := limited.mint(t, `{"userId":"user_alice"}`)
	limited.send(t, lm, "the one message of the window")
	dm, bm := down.mint(t, `{"userId":"user_alice"}`), broken.mint(t, `{"userId":"user_alice"}`)

	for range 2 { // fill capped's streams
		if st, resp := f.openStream(t, capped.SessionID, streamOpts{token: capped.SessionToken}); st == nil {
			t.Fatalf("stream under the cap: status %d: %s", resp.Status, resp.Body)
		}
	}
	seen := map[string]map[int]bool{}
	see := func(op string, status int) {
		if seen[op] == nil {
			seen[op] = map[int]bool{}
		}
		seen[op][status] = true
	}
	t.Run("stream 200", func(t *testing.T) {
		st, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
		if st == nil {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		st.close()
		op := s.doc.Paths.Value("/v1/widget/sessions/{sessionId}/stream").Get
		r := op.Responses.Status(http.StatusOK).Value
		if r.Content.Get("text/event-stream") == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Errorf("Content-Type %q: want the spec's text/event-stream", resp.Header.Get("Content-Type"))
		}
		for name, h := range r.Headers {
			if err := h.Value.Schema.Value.VisitJSON(resp.Header.Get(name)); err != nil {
				t.Errorf("header %s = %q does not conform: %v", name, resp.Header.Get(name), err)
			}
		}
		see(op.OperationID, http.StatusOK)
	})

	type call struct {
		name        string
		fx          *fixture
		method      string
		path        string // with its query
		tok         string
		ctype, body string
		status      int
		code        string
	}
	get := func(name string, fx *fixture, tok string, status int, code string) call {
		return call{name, fx, http.MethodGet, "/v1/widget/session", tok, "", "", status, code}
	}
	msg := func(name string, fx *fixture, sid, tok, ctype, body string, status int, code string) call {
		return call{name, fx, http.MethodPost, widgetPath(sid, "messages"), tok, ctype, body, status, code}
	}
	stop := func(name string, fx *fixture, sid, tok, msg string, status int, code string) call {
		return call{name, fx, http.MethodPost, widgetPath(sid, "messages/"+msg+"/stop"), tok, "", "", status, code}
	}
	tkt := func(name string, fx *fixture, sid, tok string, status int, code string) call {
		return call{name, fx, http.MethodPost, widgetPath(sid, "stream-tickets"), tok, "", "", status, code}
	}
	str := func(name string, fx *fixture, target, tok string, status int, code string) call {
		return call{name, fx, http.MethodGet, target, tok, "", "", status, code}
	}
	const js = "application/json"
	calls := []call{
		get("session loaded", f, m.SessionToken, 200, ""),
		get("session none", f, plain.SessionToken, 200, ""),
		get("session unavailable", f, unavailable.SessionToken, 200, ""),
		get("session unauthorized", f, "nope", 401, "unauthorized"),
		get("session internal", broken, bm.SessionToken, 500, "internal_error"),
		get("session revocation unknown", down, dm.SessionToken, 503, "revocation_state_unknown"),
		get("session within the session's bound", limited, lm.SessionToken, 200, ""),
		get("session rate limited", limited, lm.SessionToken, 429, "rate_limited"),

		msg("message accepted", f, m.SessionID, m.SessionToken, js, `{"content":"What happened?"}`, 202, ""),
		msg("message validation, field", f, m.SessionID, m.SessionToken, js, `{"content":""}`, 400, "validation_error"),
		msg("message validation, body", f, m.SessionID, m.SessionToken, js, `[]`, 400, "validation_error"),
		msg("message unauthorized", f, m.SessionID, "", js, `{"content":"hi"}`, 401, "unauthorized"),
		msg("message forbidden", f, other.SessionID, m.SessionToken, js, `{"content":"hi"}`, 403, "forbidden"),
		msg("message too large", f, m.SessionID, m.SessionToken, js, `{"content":"`+strings.Repeat("a", 17<<10)+`"}`, 413, "payload_too_large"),
		msg("message media type", f, m.SessionID, m.SessionToken, "text/plain", `hi`, 415, "unsupported_media_type"),
		msg("message rate limited", limited, lm.SessionID, lm.SessionToken, js, `{"content":"hi"}`, 429, "rate_limited"),
		msg("message internal", broken, bm.SessionID, bm.SessionToken, js, `{"content":"hi"}`, 500, "internal_error"),
		msg("message revocation unknown", down, dm.SessionID, dm.SessionToken, js, `{"content":"hi"}`, 503, "revocation_state_unknown"),

		stop("stop", f, m.SessionID, m.SessionToken, "msg_"+ksuid.New().String(), 204, ""),
		stop("stop validation", f, m.SessionID, m.SessionToken, "msg_nope", 400, "validation_error"),
		stop("stop unauthorized", f, m.SessionID, "", "msg_"+ksuid.New().String(), 401, "unauthorized"),
		stop("stop forbidden", f, other.SessionID, m.SessionToken, "msg_"+ksuid.New().String(), 403, "forbidden"),
		stop("stop internal", broken, bm.SessionID, bm.SessionToken, "msg_"+ksuid.New().String(), 500, "internal_error"),
		stop("stop revocation unknown", down, dm.SessionID, dm.SessionToken, "msg_"+ksuid.New().String(), 503, "revocation_state_unknown"),
		stop("stop within the session's bound", limited, lm.SessionID, lm.SessionToken, "msg_"+ksuid.New().String(), 204, ""),
		stop("stop rate limited", limited, lm.SessionID, lm.SessionToken, "msg_"+ksuid.New().String(), 429, "rate_limited"),

		tkt("ticket created", f, m.SessionID, m.SessionToken, 201, ""),
		tkt("ticket unauthorized", f, m.SessionID, "", 401, "unauthorized"),
		tkt("ticket forbidden", f, other.SessionID, m.SessionToken, 403, "forbidden"),
		tkt("ticket internal", broken, bm.SessionID, bm.SessionToken, 500, "internal_error"),
		tkt("ticket revocation unknown", down, dm.SessionID, dm.SessionToken, 503, "revocation_state_unknown"),
		tkt("ticket within the session's bound", limited, lm.SessionID, lm.SessionToken, 201, ""),
		tkt("ticket past the session's bound", limited, lm.SessionID, lm.SessionToken, 429, "too_many_tickets"),

		str("stream validation", f, widgetPath(m.SessionID, "stream")+"?lastEventId=abc", m.SessionToken, 400, "validation_error"),
		str("stream unknown query", f, widgetPath(m.SessionID, "stream")+"?since=1", m.SessionToken, 400, "validation_error"),
		str("stream unauthorized", f, widgetPath(m.SessionID, "stream"), "", 401, "unauthorized"),
		str("stream bad ticket", f, widgetPath(m.SessionID, "stream")+"?ticket=wstk_nope", "", 401, "unauthorized"),
		str("stream forbidden", f, widgetPath(other.SessionID, "stream"), m.SessionToken, 403, "forbidden"),
		str("stream too many", f, widgetPath(capped.SessionID, "stream"), capped.SessionToken, 429, "too_many_streams"),
		str("stream internal", broken, widgetPath(bm.SessionID, "stream"), bm.SessionToken, 500, "internal_error"),
		str("stream revocation unknown", down, widgetPath(dm.SessionID, "stream"), dm.SessionToken, 503, "revocation_state_unknown"),
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			resp := c.fx.edge(t, c.method, c.path, c.tok, c.ctype, c.body)
			if c.code != "" {
				checkError(t, resp, c.status, c.code)
			} else if resp.Status != c.status {
				t.Fatalf("status = %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			sreq, _ := http.NewRequest(c.method, publicServer+c.path, nil)
			route, _, err := s.router.FindRoute(sreq)
			if err != nil {
				t.Fatalf("no operation in the spec: %v", err)
			}
			see(route.Operation.OperationID, resp.Status)
			s.checkResponse(t, publicServer, c.method, c.path, resp)
			if resp.Status < 300 {
				if err := s.checkRequestAs(c.method, c.path, c.ctype, c.body); err != nil {
					t.Errorf("the spec refuses a request the server accepted: %v", err)
				}
			}
		})
	}

	// Every status each edge operation declares was produced above.
	for _, p := range []struct{ path, method string }{
		{"/v1/widget/session", http.MethodGet},
		{"/v1/widget/sessions/{sessionId}/messages", http.MethodPost},
		{"/v1/widget/sessions/{sessionId}/messages/{messageId}/stop", http.MethodPost},
		{"/v1/widget/sessions/{sessionId}/stream-tickets", http.MethodPost},
		{"/v1/widget/sessions/{sessionId}/stream", http.MethodGet},
	} {
		op := s.doc.Paths.Value(p.path).GetOperation(p.method)
		if op == nil {
			t.Fatalf("the spec has no %s %s", p.method, p.path)
		}
		for code := range op.Responses.Map() {
			var status int
			fmt.Sscan(code, &status)
			if !seen[op.OperationID][status] {
				t.Errorf("the spec declares %s for %s, and no test produced it", code, op.OperationID)
			}
		}
	}
}
