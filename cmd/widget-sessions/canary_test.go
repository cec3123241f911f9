package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLogCanary sends secrets through every path a request has into the
// real process, at debug level, then searches the whole log for them: a
// caller token, garbage and JWT-shaped canaries in Authorization, canaries
// in the body, the query string, the path and a refused X-Request-Id, and
// the minted session tokens. (TestProductionWiring does the same for the
// directory token and the signing key file.)
func TestLogCanary(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"WIDGET_LOG_LEVEL": "debug"})
	caller := devToken(t, s, "demo", "user_alice", "admin")
	viewer := devToken(t, s, "demo", "user_bob", "viewer")
	canary := func(what string) string { return "CANARY" + what + rand.Text() }
	b64 := base64.RawURLEncoding.EncodeToString

	garbage := canary("garbage")
	jwtShaped := b64([]byte(`{"alg":"EdDSA","kid":"`+canary("kid")+`"}`)) + "." +
		b64([]byte(`{"sub":"`+canary("sub")+`"}`)) + "." + b64([]byte(canary("sig")))
	inBody := canary("body")
	inIncident := canary("incident")
	inQuery := canary("query")
	inPath := canary("path")
	badRequestID := canary("reqid") + "/not a valid request id"

	post := func(hdr map[string]string, path, body string) response {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range hdr {
			h[k] = v
		}
		return s.do(t, http.MethodPost, s.public+path, h, body)
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	checks := []struct {
		name   string
		resp   response
		status int
	}{
		{"garbage bearer", post(bearer(garbage), "/v1/widget/sessions", readmeBody), 401},
		{"garbage without a scheme", post(map[string]string{"Authorization": garbage}, "/v1/widget/sessions", readmeBody), 401},
		{"JWT-shaped bearer", post(bearer(jwtShaped), "/v1/widget/sessions", readmeBody), 401},
		{"viewer token", post(bearer(viewer), "/v1/widget/sessions", readmeBody), 403},
		{"unknown body member", post(bearer(caller), "/v1/widget/sessions", `{"userId": "user_alice", "`+inBody+`": "`+inBody+`"}`), 400},
		{"invalid body value", post(bearer(caller), "/v1/widget/sessions", `{"userId": "`+inBody+` x"}`), 400},
		{"query string", post(bearer(caller), "/v1/widget/sessions?token="+url.QueryEscape(inQuery), readmeBody), 201},
		{"path", s.get(t, s.public+"/"+inPath+"?token="+inQuery), 404},
		{"refused request id", post(map[string]string{"Authorization": "Bearer " + caller, "X-Request-Id": badRequestID},
			"/v1/widget/sessions", `{"userId": "user_bob", "incidentId": "`+inIncident+`"}`), 404}, // no such incident
	}
	var sessions []createSessionResponse
	for _, c := range checks {
		if c.resp.status != c.status {
			t.Errorf("%s: status %d, want %d; body %s", c.name, c.resp.status, c.status, c.resp.body)
		}
		if c.resp.header.Get("X-Request-Id") == badRequestID {
			t.Errorf("%s: the invalid X-Request-Id was kept", c.name)
		}
		if c.status == http.StatusCreated {
			var sess createSessionResponse
			if err := json.Unmarshal(c.resp.body, &sess); err != nil || sess.SessionToken == "" {
				t.Fatalf("%s: no session in %s", c.name, c.resp.body)
			}
			sessions = append(sessions, sess)
		}
	}

	s.stop(t)
	log := s.log.String()
	// The log must be worth searching: one line per request, with the
	// session ids that are meant to be there.
	if n := strings.Count(log, `"msg":"request"`); n != len(checks) {
		t.Errorf("%d request lines in the log, want %d:\n%s", n, len(checks), log)
	}
	secrets := map[string]string{
		"the caller token":           caller,
		"the caller token signature": caller[strings.LastIndex(caller, ".")+1:],
		"the viewer token":           viewer,
		"the garbage canary":         garbage,
		"the JWT-shaped canary":      jwtShaped,
		"the body canary":            inBody,
		"the incidentId canary":      inIncident,
		"the query canary":           inQuery,
		"the path canary":            inPath,
		"the refused request id":     badRequestID[:len(badRequestID)-len("/not a valid request id")],
	}
	for i, sess := range sessions {
		if !strings.Contains(log, sess.SessionID) {
			t.Errorf("session %d: its id is not in the log, so the log is not the one of these requests", i)
		}
		secrets["session token "+sess.SessionID] = sess.SessionToken
		secrets["session token signature "+sess.SessionID] = sess.SessionToken[strings.LastIndex(sess.SessionToken, ".")+1:]
	}
	for i, d := range privateDs(t, s.env["WIDGET_DEV_IDP_KEY"]) {
		secrets[fmt.Sprintf("the dev IdP private key #%d (d)", i)] = d
	}
	assertNotInLog(t, log, secrets)
}
