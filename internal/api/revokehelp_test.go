package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// How the revocation and introspection tests call the API and read its
// verdicts.

const introspectPath = "/v1/widget/tokens/introspect"

// sharedDirectory has user_alice in both tenants, so that a test can tell
// "this user" from "this user in this tenant".
const sharedDirectory = `{"tenants": {
	"demo": {"users": ["user_alice", "user_bob"]},
	"acme": {"users": ["user_alice", "user_carol"]}
}}`

// withSharedDirectory puts sharedDirectory in place of the demo one.
func withSharedDirectory(t testing.TB) fixtureOption {
	t.Helper()
	dir, err := directory.ParseFile([]byte(sharedDirectory))
	if err != nil {
		t.Fatal(err)
	}
	return withDirectory(dir)
}

// as returns an Authorization header for a dev-IdP caller of tenant with
// roles.
func (f *fixture) as(t testing.TB, tenant string, roles ...string) string {
	t.Helper()
	return "Bearer " + f.callerToken(t, tenant, "caller_"+tenant, roles...)
}

// Callers the tests use over and over.
func (f *fixture) admin(t testing.TB, tenant string) string { return f.as(t, tenant, widget.RoleAdmin) }
func (f *fixture) ops(t testing.TB) string                  { return f.as(t, "causeflow", "ops") }
func (f *fixture) service(t testing.TB) string              { return f.as(t, "causeflow", "service") }

// mintIn mints a session for userID in tenant as an admin of tenant.
func (f *fixture) mintIn(t testing.TB, tenant, userID string) mintResponse {
	t.Helper()
	resp := f.do(t, f.mintRequest(t, f.admin(t, tenant), `{"userId":"`+userID+`"}`))
	return decodeCreated(t, resp)
}

// revoke sends DELETE target (a path with its query) with authorization,
// when not empty.
func (f *fixture) revoke(t testing.TB, authorization, target string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, f.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return f.do(t, req)
}

// introspectRequest posts body as ctype (none when empty) to the
// introspection endpoint with authorization, when not empty.
func (f *fixture) introspectRequest(t testing.TB, authorization, ctype, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL+introspectPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return f.do(t, req)
}

const formType = "application/x-www-form-urlencoded"

// introspect introspects tok as the gateway would: a service caller, a
// form body.
func (f *fixture) introspect(t testing.TB, tok string) response {
	t.Helper()
	return f.introspectRequest(t, f.service(t), formType, "token="+url.QueryEscape(tok))
}

// active introspects tok and returns the verdict, failing the test on
// anything but a 200 in the RFC 7662 shape: an inactive answer is exactly
// {"active":false}, saying nothing about why.
func (f *fixture) active(t testing.TB, tok string) bool {
	t.Helper()
	return verdict(t, f.introspect(t, tok))
}

func verdict(t testing.TB, resp response) bool {
	t.Helper()
	if resp.Status != http.StatusOK {
		t.Fatalf("introspection: status %d, want 200; body %s", resp.Status, resp.Body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("introspection: Cache-Control = %q, want no-store", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("introspection: Content-Type = %q, want application/json", ct)
	}
	var v struct {
		Active *bool `json:"active"`
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil || v.Active == nil {
		t.Fatalf("introspection body %s: no active member (%v)", resp.Body, err)
	}
	if !*v.Active && !bytes.Equal(resp.Body, []byte(`{"active":false}`)) {
		t.Errorf(`inactive body = %s, want exactly {"active":false}`, resp.Body)
	}
	return *v.Active
}

// wantActive fails unless each token introspects as want says.
func (f *fixture) wantActive(t testing.TB, want bool, tokens map[string]string) {
	t.Helper()
	for what, tok := range tokens {
		if got := f.active(t, tok); got != want {
			t.Errorf("%s: active = %v, want %v", what, got, want)
		}
	}
}

// validClaims are the claims of a session token the fixture would mint for
// user_alice of demo now; tests edit a copy and sign it with signClaims.
func validClaims(t testing.TB) token.Claims {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	sid, err := sessionid.New(now)
	if err != nil {
		t.Fatal(err)
	}
	return token.Claims{
		Issuer: sessionIssuer, Audience: sessionAudience, Subject: "user_alice", Tenant: "demo",
		SessionID: sid, ID: sid, IssuedAt: now.Unix(), NotBefore: now.Unix(),
		Expiry: now.Add(time.Hour).Unix(), Scope: token.Scope,
	}
}

// signClaims signs c with the fixture's own signing key, as the minter
// would, and returns the test-environment session token.
func (f *fixture) signClaims(t testing.TB, c token.Claims) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := f.ring.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return token.Wrap(token.EnvTest, compact)
}

// fakeRevocations is a revocation store made of functions; a nil function
// hands over to an in-memory store.
type fakeRevocations struct {
	mem       *revoke.Memory
	revoke    func(ctx context.Context, e revoke.Entry) error
	isRevoked func(c *token.Claims) (bool, error)
	fresh     func() error
}

func newFakeRevocations() *fakeRevocations {
	return &fakeRevocations{mem: revoke.NewMemory(time.Now, revoke.Limits{})}
}

func (r *fakeRevocations) Revoke(ctx context.Context, e revoke.Entry) error {
	if r.revoke != nil {
		return r.revoke(ctx, e)
	}
	return r.mem.Revoke(ctx, e)
}

func (r *fakeRevocations) IsRevoked(c *token.Claims) (bool, error) {
	if r.isRevoked != nil {
		return r.isRevoked(c)
	}
	return r.mem.IsRevoked(c)
}

func (r *fakeRevocations) Fresh() error {
	if r.fresh != nil {
		return r.fresh()
	}
	return nil
}

func (r *fakeRevocations) Subscribe(fn func(revoke.Entry)) (cancel func()) {
	return r.mem.Subscribe(fn)
}

// codeFor is the error code the API answers with status, where there is
// one; 503 has two, and tests that mean revocation_state_unknown say so.
func codeFor(status int) string {
	return map[int]string{
		400: "validation_error", 401: "unauthorized", 403: "forbidden", 404: "not_found",
		413: "payload_too_large", 415: "unsupported_media_type", 500: "internal_error", 503: "dependency_unavailable",
	}[status]
}
