package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// checkRequestAs validates a request (path, query and body of ctype)
// against the spec, as checkRequest does for JSON.
func (s spec) checkRequestAs(method, target, ctype, body string) error {
	req, err := http.NewRequest(method, publicServer+target, strings.NewReader(body))
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer x.y.z")
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return err
	}
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, SkipSettingDefaults: true},
	})
}

// TestRevocationAndIntrospectionConformToSpec sends requests that produce
// every status the revocation and introspection operations declare and
// validates the real responses against openapi.yaml; what the server
// accepted, the spec must accept too.
func TestRevocationAndIntrospectionConformToSpec(t *testing.T) {
	s := loadSpec(t)
	f := newFixture(t, withSharedDirectory(t))

	// down cannot record revocations nor tell whether a token is revoked.
	downRevs := newFakeRevocations()
	downRevs.revoke = func(context.Context, revoke.Entry) error { return fmt.Errorf("redis down: %w", revoke.ErrUnavailable) }
	downRevs.isRevoked = func(*token.Claims) (bool, error) { return false, fmt.Errorf("stale: %w", revoke.ErrStale) }
	down := newFixture(t, withRevocations(downRevs))
	// broken panics in its store: the unexpected failure, 500.
	brokenRevs := newFakeRevocations()
	brokenRevs.revoke = func(context.Context, revoke.Entry) error { panic("revocation store exploded") }
	brokenRevs.isRevoked = func(*token.Claims) (bool, error) { panic("revocation store exploded") }
	broken := newFixture(t, withRevocations(brokenRevs))

	// limited lets each caller tenant revoke once an hour; capped lets each
	// tenant hold one live session or user entry.
	limited := newFixture(t, withRevokeLimit(1))
	capped := newFixture(t, withRevocations(revoke.NewMemory(time.Now, revoke.Limits{MaxPerTenant: 1})))

	active := f.mint(t, `{"userId":"user_alice","incidentId":"inc_1"}`) // every member of Introspection
	doomed := f.mintIn(t, "demo", "user_bob")
	downToken := down.mint(t, `{"userId":"user_alice"}`).SessionToken
	brokenToken := broken.mint(t, `{"userId":"user_alice"}`).SessionToken
	sid := doomed.SessionID
	admin, member, ops, service := f.admin(t, "demo"), f.as(t, "demo", "member"), f.ops(t), f.service(t)
	form := func(tok string) string { return "token=" + url.QueryEscape(tok) }

	type call struct {
		name         string
		fx           *fixture
		method, path string // path with its query
		auth         string
		ctype, body  string
		status       int
		code         string // for a 503: which one
	}
	del := func(name string, fx *fixture, path, auth string, status int) call {
		return call{name: name, fx: fx, method: http.MethodDelete, path: path, auth: auth, status: status}
	}
	intro := func(name string, fx *fixture, auth, ctype, body string, status int) call {
		return call{name: name, fx: fx, method: http.MethodPost, path: introspectPath, auth: auth, ctype: ctype, body: body, status: status}
	}
	calls := []call{
		intro("introspect active, form", f, service, formType, form(active.SessionToken), 200),
		intro("introspect active, JSON", f, service, "application/json", `{"token":"`+active.SessionToken+`","token_type_hint":"access_token"}`, 200),
		intro("introspect inactive", f, service, formType, form("nope"), 200),
		intro("introspect validation", f, service, formType, "", 400),
		intro("introspect unauthorized", f, "", formType, form(active.SessionToken), 401),
		intro("introspect forbidden", f, admin, formType, form(active.SessionToken), 403),
		intro("introspect too large", f, service, formType, form(strings.Repeat("a", 17<<10)), 413),
		intro("introspect media type", f, service, "text/plain", active.SessionToken, 415),
		intro("introspect internal", broken, broken.service(t), formType, form(brokenToken), 500),
		{name: "introspect revocation state unknown", fx: down, method: http.MethodPost, path: introspectPath, auth: down.service(t),
			ctype: formType, body: form(downToken), status: 503, code: "revocation_state_unknown"},

		del("session", f, sessionPath(sid), admin, 204),
		del("session, ops in another tenant", f, sessionPath(sid)+"?tenantId=demo", ops, 204),
		del("session validation", f, sessionPath("wsess_nope"), admin, 400),
		del("session unknown query", f, sessionPath(sid)+"?tenant=demo", admin, 400),
		del("session unauthorized", f, sessionPath(sid), "", 401),
		del("session forbidden", f, sessionPath(sid), member, 403),
		del("session internal", broken, sessionPath(sid), broken.admin(t, "demo"), 500),
		del("session unavailable", down, sessionPath(sid), down.admin(t, "demo"), 503),
		del("session within the tenant's rate", limited, sessionPath(sid), limited.admin(t, "demo"), 204),
		{name: "session past the tenant's rate", fx: limited, method: http.MethodDelete, path: sessionPath(sid),
			auth: limited.admin(t, "demo"), status: 429, code: "rate_limited"},
		del("session within the tenant's cap", capped, sessionPath(sid), capped.admin(t, "demo"), 204),
		{name: "session past the tenant's cap", fx: capped, method: http.MethodDelete, path: sessionPath(freshSID(t)),
			auth: capped.admin(t, "demo"), status: 429, code: "revocation_limit_reached"},

		del("user", f, usersPath("user_bob"), admin, 204),
		del("user, ops in another tenant", f, usersPath("user_carol")+"?tenantId=acme", ops, 204),
		del("user validation", f, usersPath("user%20bob"), admin, 400),
		del("user unauthorized", f, usersPath("user_bob"), "Bearer nope", 401),
		del("user forbidden", f, usersPath("user_bob")+"?tenantId=acme", admin, 403),
		del("user internal", broken, usersPath("user_bob"), broken.admin(t, "demo"), 500),
		del("user unavailable", down, usersPath("user_bob"), down.admin(t, "demo"), 503),
		{name: "user past the tenant's rate", fx: limited, method: http.MethodDelete, path: usersPath("user_bob"),
			auth: limited.admin(t, "demo"), status: 429, code: "rate_limited"},
		{name: "user past the tenant's cap", fx: capped, method: http.MethodDelete, path: usersPath("user_bob"),
			auth: capped.admin(t, "demo"), status: 429, code: "revocation_limit_reached"},

		del("tenant", f, tenantPath("acme"), ops, 204),
		del("tenant validation", f, tenantPath("acme")+"?tenantId=acme", ops, 400),
		del("tenant unauthorized", f, tenantPath("acme"), "", 401),
		del("tenant forbidden", f, tenantPath("acme"), f.admin(t, "acme"), 403),
		del("tenant internal", broken, tenantPath("acme"), broken.ops(t), 500),
		del("tenant unavailable", down, tenantPath("acme"), down.ops(t), 503),
		del("tenant within the operator's rate", limited, tenantPath("acme"), limited.ops(t), 204),
		{name: "tenant past the operator's rate", fx: limited, method: http.MethodDelete, path: tenantPath("demo"),
			auth: limited.ops(t), status: 429, code: "rate_limited"},
		del("tenant past the tenant's cap: never refused", capped, tenantPath("demo"), capped.ops(t), 204),
	}
	seen := map[string]map[int]bool{}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.fx.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			resp := c.fx.do(t, req)
			if resp.Status >= 400 {
				code := c.code
				if code == "" {
					code = codeFor(c.status)
				}
				checkError(t, resp, c.status, code)
			} else if resp.Status != c.status {
				t.Fatalf("status = %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			sreq, _ := http.NewRequest(c.method, publicServer+c.path, nil)
			route, _, err := s.router.FindRoute(sreq)
			if err != nil {
				t.Fatalf("no operation in the spec: %v", err)
			}
			op := route.Operation.OperationID
			if seen[op] == nil {
				seen[op] = map[int]bool{}
			}
			seen[op][resp.Status] = true
			s.checkResponse(t, publicServer, c.method, c.path, resp)
			if resp.Status < 300 {
				if err := s.checkRequestAs(c.method, c.path, c.ctype, c.body); err != nil {
					t.Errorf("the spec refuses a request the server accepted: %v", err)
				}
			}
		})
	}
	if !f.active(t, active.SessionToken) {
		t.Error("the session that no call revoked is inactive")
	}

	// Every status each of these operations declares was produced above.
	for _, p := range []struct{ path, method string }{
		{"/v1/widget/sessions/{sessionId}", http.MethodDelete},
		{"/v1/widget/users/{userId}/sessions", http.MethodDelete},
		{"/v1/widget/tenants/{tenantId}/sessions", http.MethodDelete},
		{introspectPath, http.MethodPost},
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

// freshSID returns a session id of now.
func freshSID(t *testing.T) string {
	t.Helper()
	sid, err := sessionid.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return sid
}
