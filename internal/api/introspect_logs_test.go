package api_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// TestIntrospectionLogsHoldNoTokens introspects tokens through every path
// (active, revoked, tampered, garbage, refused callers and bodies, a stale
// revocation store) and at debug level, then searches the logs for the
// tokens and their parts. The gateway sends us every user's credential:
// none may end up in a log.
func TestIntrospectionLogsHoldNoTokens(t *testing.T) {
	var stale atomic.Bool
	revs := newFakeRevocations()
	revs.isRevoked = func(c *token.Claims) (bool, error) {
		if stale.Load() {
			return false, errors.New("mirror stale")
		}
		return revs.mem.IsRevoked(c)
	}
	f := newFixture(t, withRevocations(revs))
	active := f.mint(t, `{"userId":"user_alice","incidentId":"inc_1"}`)
	revoked := f.mint(t, `{"userId":"user_bob"}`)
	f.want204(t, f.admin(t, "demo"), sessionPath(revoked.SessionID))
	const garbage = "wst_test_CANARYintro.CANARYpayload.CANARYsig"
	live := token.Wrap(token.EnvLive, strings.TrimPrefix(active.SessionToken, "wst_test_"))
	tampered := swapSignature(active.SessionToken, revoked.SessionToken)
	service, admin := f.service(t), f.admin(t, "demo")

	form := func(tok string) string { return "token=" + url.QueryEscape(tok) }
	calls := []struct {
		name, auth, ctype, body string
		status                  int
		stale                   bool
	}{
		{"active, form", service, formType, form(active.SessionToken), 200, false},
		{"active, JSON", service, "application/json", `{"token":"` + active.SessionToken + `"}`, 200, false},
		{"revoked", service, formType, form(revoked.SessionToken), 200, false},
		{"tampered", service, formType, form(tampered), 200, false},
		{"wrong environment", service, formType, form(live), 200, false},
		{"garbage", service, formType, form(garbage), 200, false},
		{"admin", admin, formType, form(active.SessionToken), 403, false},
		{"no caller", "", formType, form(active.SessionToken), 401, false},
		{"token as the caller", "Bearer " + active.SessionToken, formType, form(active.SessionToken), 401, false},
		{"unknown field", service, formType, form(active.SessionToken) + "&x=" + url.QueryEscape(active.SessionToken), 400, false},
		{"token twice", service, formType, form(active.SessionToken) + "&" + form(revoked.SessionToken), 400, false},
		{"unknown JSON member", service, "application/json", `{"token":"` + active.SessionToken + `","` + garbage + `":1}`, 400, false},
		{"text/plain", service, "text/plain", active.SessionToken, 415, false},
		{"revocation state unknown", service, formType, form(active.SessionToken), 503, true},
	}
	for _, c := range calls {
		stale.Store(c.stale)
		resp := f.introspectRequest(t, c.auth, c.ctype, c.body)
		if resp.Status != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.name, resp.Status, c.status, resp.Body)
		}
		if c.status != http.StatusOK && strings.Contains(string(resp.Body), active.SessionToken) {
			t.Errorf("%s: the response echoes the token", c.name)
		}
	}

	logs := f.logs.String()
	secrets := map[string]string{"garbage canary": "CANARY"}
	for what, tok := range map[string]string{"active": active.SessionToken, "revoked": revoked.SessionToken, "tampered": tampered} {
		secrets[what+" token"] = tok
		jws := strings.TrimPrefix(tok, "wst_test_")
		for i, part := range strings.Split(jws, ".") {
			secrets[what+" token part "+string(rune('0'+i))] = part
		}
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the %s", name)
		}
	}
	if strings.Contains(logs, "wst_") {
		t.Error(`logs contain "wst_", the session token prefix`)
	}

	// The search means something only if every request was logged, and
	// the 503's cause with it.
	var lines int
	for _, e := range f.logs.entries(t) {
		if e["msg"] == "request" && e["route"] == introspectPath {
			lines++
		}
	}
	if lines != len(calls) {
		t.Errorf("%d introspection request lines, want %d:\n%s", lines, len(calls), logs)
	}
	if !strings.Contains(logs, "mirror stale") {
		t.Error("the cause of the 503 was not logged")
	}
}
