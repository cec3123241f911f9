package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/internal/devidp"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// What the revocation tests share: the settings of replicas sharing one
// Redis and one signing key, caller tokens made in process, and calls to
// revoke and introspect.

// emptiedRedisLine is the start of the error logged when the revocation
// store in Redis is found without its marker.
const emptiedRedisLine = "the revocation store in Redis was empty"

// cluster is what replicas of one deployment share: the settings and the
// development identity provider they all trust.
type cluster struct {
	env map[string]string
	idp *devidp.IDP
}

// newCluster makes one signing key file (active kid set) and one dev-IdP
// key file, and the settings every replica on redisURL starts with.
func newCluster(t testing.TB, redisURL string, extra map[string]string) *cluster {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.jwks.json")
	kid, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	idpFile := filepath.Join(dir, "dev-idp.jwks.json")
	idp, err := devidp.LoadOrCreate(idpFile) // made once, before any replica races to
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"WIDGET_REDIS_URL":    redisURL,
		"WIDGET_SIGNING_KEYS": keyFile,
		"WIDGET_SIGNING_KID":  kid,
		"WIDGET_DEV_IDP_KEY":  idpFile,
	}
	for k, v := range extra {
		env[k] = v
	}
	return &cluster{env: env, idp: idp}
}

// caller returns a caller JWT of tenant with roles.
func (c *cluster) caller(t testing.TB, tenant string, roles ...string) string {
	t.Helper()
	tok, err := c.idp.Token(devidp.TokenRequest{Tenant: tenant, Subject: "caller_" + tenant, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// revoke sends DELETE path with the caller token.
func (s *testServer) revoke(t *testing.T, caller, path string) response {
	t.Helper()
	return s.do(t, http.MethodDelete, s.public+path, map[string]string{"Authorization": "Bearer " + caller}, "")
}

// mustRevoke revokes and requires 204.
func (s *testServer) mustRevoke(t *testing.T, caller, path string) {
	t.Helper()
	if r := s.revoke(t, caller, path); r.status != http.StatusNoContent {
		t.Fatalf("DELETE %s: status %d, want 204; body %s", path, r.status, r.body)
	}
}

// introspect asks the server about tok as the gateway (a service caller).
func (s *testServer) introspect(t *testing.T, service, tok string) response {
	t.Helper()
	return s.do(t, http.MethodPost, s.public+"/v1/widget/tokens/introspect", map[string]string{
		"Authorization": "Bearer " + service,
		"Content-Type":  "application/x-www-form-urlencoded",
	}, "token="+url.QueryEscape(tok))
}

// verdict reads a 200 introspection; ok is false for any other answer.
func (r response) verdict(t *testing.T) (active, ok bool) {
	t.Helper()
	if r.status != http.StatusOK {
		return false, false
	}
	var v struct{ Active *bool }
	if err := json.Unmarshal(r.body, &v); err != nil || v.Active == nil {
		t.Fatalf("introspection body %s is not a verdict: %v", r.body, err)
	}
	if !*v.Active && string(r.body) != `{"active":false}` {
		t.Errorf(`inactive body %s, want exactly {"active":false}`, r.body)
	}
	return *v.Active, true
}

// active introspects tok and requires a verdict.
func (s *testServer) active(t *testing.T, service, tok string) bool {
	t.Helper()
	r := s.introspect(t, service, tok)
	active, ok := r.verdict(t)
	if !ok {
		t.Fatalf("introspection: status %d, want 200; body %s\nlog:\n%s", r.status, r.body, s.log)
	}
	return active
}

// waitInactive polls introspection of tok every 10 ms until it is
// inactive, for at most limit, and returns how long that took; it fails
// the test when tok is still active at the limit or the answer is ever not
// a verdict.
func (s *testServer) waitInactive(t *testing.T, service, tok string, limit time.Duration) time.Duration {
	t.Helper()
	return wait.Within(t, limit, "the revoked token inactive", func() bool { return !s.active(t, service, tok) })
}

// readyStatus returns the status of the internal /readyz.
func (s *testServer) readyStatus(t *testing.T) int {
	t.Helper()
	return s.get(t, s.internal+"/readyz").status
}

// waitReady polls /readyz until it answers want, for at most limit.
func (s *testServer) waitReady(t *testing.T, want int, limit time.Duration) {
	t.Helper()
	wait.Within(t, limit, fmt.Sprintf("/readyz answering %d", want), func() bool { return s.readyStatus(t) == want }, func() string {
		r := s.get(t, s.internal+"/readyz")
		return fmt.Sprintf("/readyz: %d %s\nlog:\n%s", r.status, r.body, s.log)
	})
}

// countInLog counts the occurrences of substr in the server's log.
func (s *testServer) countInLog(substr string) int { return strings.Count(s.log.String(), substr) }
