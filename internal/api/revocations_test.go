package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/revoke"
)

// refused is a revocation request that must be refused with nothing
// revoked.
type refused struct {
	name   string
	auth   string
	target string
	status int
	code   string
	field  string // for 400: the field the error names
}

// checkRefused sends each request and checks its error, then that the
// tokens in intact are all still active: a refused revocation revokes
// nothing.
func (f *fixture) checkRefused(t *testing.T, cases []refused, intact map[string]string) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := f.revoke(t, c.auth, c.target)
			e := checkError(t, resp, c.status, c.code)
			if c.field != "" && (e.Field == nil || *e.Field != c.field) {
				t.Errorf("field = %v, want %q (message %q)", e.Field, c.field, e.Message)
			}
			if c.status == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			f.wantActive(t, true, intact)
		})
	}
}

// want204 sends DELETE target and requires a bare 204.
func (f *fixture) want204(t *testing.T, auth, target string) {
	t.Helper()
	resp := f.revoke(t, auth, target)
	if resp.Status != http.StatusNoContent || len(resp.Body) != 0 {
		t.Fatalf("DELETE %s: status %d body %q, want 204 and no body", target, resp.Status, resp.Body)
	}
}

func sessionPath(sid string) string { return "/v1/widget/sessions/" + sid }

func TestRevokeSession(t *testing.T) {
	f := newFixture(t, withSharedDirectory(t))
	target := f.mintIn(t, "demo", "user_alice")
	acme := f.mintIn(t, "acme", "user_alice")
	intact := map[string]string{"the demo session": target.SessionToken, "the acme session": acme.SessionToken}

	f.checkRefused(t, []refused{
		{"member", f.as(t, "demo", "member"), sessionPath(target.SessionID), 403, "forbidden", ""},
		{"viewer", f.as(t, "demo", "viewer"), sessionPath(target.SessionID), 403, "forbidden", ""},
		{"service", f.service(t), sessionPath(target.SessionID) + "?tenantId=demo", 403, "forbidden", ""},
		{"no token", "", sessionPath(target.SessionID), 401, "unauthorized", ""},
		{"garbage token", "Bearer nope", sessionPath(target.SessionID), 401, "unauthorized", ""},
		{"malformed sid", f.admin(t, "demo"), sessionPath("wsess_short"), 400, "validation_error", "sessionId"},
		{"sid without prefix", f.admin(t, "demo"), sessionPath(target.SessionID[len("wsess_"):]), 400, "validation_error", "sessionId"},
		{"sid with a non-base62 digit", f.admin(t, "demo"), sessionPath(target.SessionID[:len(target.SessionID)-1] + "-"), 400, "validation_error", "sessionId"},
		{"admin acting on another tenant", f.admin(t, "demo"), sessionPath(acme.SessionID) + "?tenantId=acme", 403, "forbidden", ""},
		{"unknown query parameter", f.ops(t), sessionPath(acme.SessionID) + "?tenant=acme", 400, "validation_error", "tenant"},
		{"tenantId twice", f.ops(t), sessionPath(acme.SessionID) + "?tenantId=acme&tenantId=acme", 400, "validation_error", "tenantId"},
		{"empty tenantId", f.ops(t), sessionPath(acme.SessionID) + "?tenantId=", 400, "validation_error", "tenantId"},
		{"invalid tenantId", f.ops(t), sessionPath(acme.SessionID) + "?tenantId=ac%20me", 400, "validation_error", "tenantId"},
	}, intact)

	t.Run("admin in own tenant", func(t *testing.T) {
		s1, s2 := f.mintIn(t, "demo", "user_alice"), f.mintIn(t, "demo", "user_alice")
		f.want204(t, f.admin(t, "demo"), sessionPath(s1.SessionID))
		f.wantActive(t, false, map[string]string{"the revoked session": s1.SessionToken})
		f.wantActive(t, true, map[string]string{"another session of the same user": s2.SessionToken})
		// Idempotent: again, and with the own tenant named explicitly.
		f.want204(t, f.admin(t, "demo"), sessionPath(s1.SessionID))
		f.want204(t, f.admin(t, "demo"), sessionPath(s1.SessionID)+"?tenantId=demo")
		f.wantActive(t, false, map[string]string{"the revoked session": s1.SessionToken})
	})

	t.Run("a session never minted", func(t *testing.T) {
		// 204 all the same: an answer that differed would let a caller
		// probe for session ids.
		f.want204(t, f.admin(t, "demo"), sessionPath(validClaims(t).SessionID))
	})

	t.Run("another tenant's sid without tenantId is scoped to the caller's tenant", func(t *testing.T) {
		s := f.mintIn(t, "acme", "user_carol")
		f.want204(t, f.admin(t, "demo"), sessionPath(s.SessionID))
		f.want204(t, f.ops(t), sessionPath(s.SessionID)) // ops too: its own tenant is causeflow
		f.wantActive(t, true, map[string]string{"acme's session": s.SessionToken})
	})

	t.Run("ops in another tenant", func(t *testing.T) {
		s, other := f.mintIn(t, "acme", "user_carol"), f.mintIn(t, "acme", "user_carol")
		f.want204(t, f.ops(t), sessionPath(s.SessionID)+"?tenantId=acme")
		f.wantActive(t, false, map[string]string{"acme's revoked session": s.SessionToken})
		f.wantActive(t, true, map[string]string{"acme's other session": other.SessionToken})
	})
}

func usersPath(user string) string { return "/v1/widget/users/" + user + "/sessions" }

func TestRevokeUserSessions(t *testing.T) {
	f := newFixture(t, withSharedDirectory(t))
	a1, a2 := f.mintIn(t, "demo", "user_alice"), f.mintIn(t, "demo", "user_alice")
	bob := f.mintIn(t, "demo", "user_bob")
	acmeAlice := f.mintIn(t, "acme", "user_alice")

	f.checkRefused(t, []refused{
		{"member", f.as(t, "demo", "member"), usersPath("user_alice"), 403, "forbidden", ""},
		{"viewer", f.as(t, "demo", "viewer"), usersPath("user_alice"), 403, "forbidden", ""},
		{"no token", "", usersPath("user_alice"), 401, "unauthorized", ""},
		{"invalid userId", f.admin(t, "demo"), usersPath("user%20alice"), 400, "validation_error", "userId"},
		{"admin acting on another tenant", f.admin(t, "demo"), usersPath("user_alice") + "?tenantId=acme", 403, "forbidden", ""},
		{"unknown query parameter", f.admin(t, "demo"), usersPath("user_alice") + "?before=0", 400, "validation_error", "before"},
		{"tenantId twice", f.ops(t), usersPath("user_alice") + "?tenantId=demo&tenantId=acme", 400, "validation_error", "tenantId"},
	}, map[string]string{"alice's demo session": a1.SessionToken, "alice's acme session": acmeAlice.SessionToken})

	f.want204(t, f.admin(t, "demo"), usersPath("user_alice"))
	// Sign out everywhere, then sign in: a session minted at once, in the
	// revocation's second, is not born revoked.
	later := f.mintIn(t, "demo", "user_alice")

	f.wantActive(t, false, map[string]string{"alice's first session": a1.SessionToken, "alice's second session": a2.SessionToken})
	f.wantActive(t, true, map[string]string{"bob's session": bob.SessionToken, "alice's session in acme": acmeAlice.SessionToken})
	f.wantActive(t, true, map[string]string{"a session minted after the revocation": later.SessionToken})

	t.Run("ops in another tenant", func(t *testing.T) {
		f.want204(t, f.ops(t), usersPath("user_alice")+"?tenantId=acme")
		f.wantActive(t, false, map[string]string{"alice's session in acme": acmeAlice.SessionToken})
		f.wantActive(t, true, map[string]string{"alice's later demo session": later.SessionToken})
	})
}

func tenantPath(tenant string) string { return "/v1/widget/tenants/" + tenant + "/sessions" }

func TestRevokeTenantSessions(t *testing.T) {
	f := newFixture(t, withSharedDirectory(t))
	alice, bob := f.mintIn(t, "demo", "user_alice"), f.mintIn(t, "demo", "user_bob")
	carol := f.mintIn(t, "acme", "user_carol")

	f.checkRefused(t, []refused{
		{"admin of that tenant", f.admin(t, "demo"), tenantPath("demo"), 403, "forbidden", ""},
		{"admin of another tenant", f.admin(t, "acme"), tenantPath("demo"), 403, "forbidden", ""},
		{"member", f.as(t, "demo", "member"), tenantPath("demo"), 403, "forbidden", ""},
		{"service", f.service(t), tenantPath("demo"), 403, "forbidden", ""},
		{"no token", "", tenantPath("demo"), 401, "unauthorized", ""},
		{"tenantId query parameter", f.ops(t), tenantPath("demo") + "?tenantId=acme", 400, "validation_error", "tenantId"},
		{"invalid tenantId", f.ops(t), tenantPath("de%20mo"), 400, "validation_error", "tenantId"},
	}, map[string]string{"alice's session": alice.SessionToken})

	f.want204(t, f.ops(t), tenantPath("demo"))
	f.wantActive(t, false, map[string]string{"alice's session": alice.SessionToken, "bob's session": bob.SessionToken})
	f.wantActive(t, true, map[string]string{"acme's session": carol.SessionToken})
}

// TestRevocationStoreUnavailable: when the store cannot confirm a write,
// the answer is 503 with Retry-After, never 204, and nothing is revoked.
func TestRevocationStoreUnavailable(t *testing.T) {
	revs := newFakeRevocations()
	revs.revoke = func(context.Context, revoke.Entry) error {
		return fmt.Errorf("redis: revocation not recorded: %w: dial tcp 127.0.0.1:6379: connection refused", revoke.ErrUnavailable)
	}
	f := newFixture(t, withSharedDirectory(t), withRevocations(revs))
	s := f.mintIn(t, "demo", "user_alice")
	for _, c := range []struct{ name, auth, target string }{
		{"session", f.admin(t, "demo"), sessionPath(s.SessionID)},
		{"session, ops in another tenant", f.ops(t), sessionPath(s.SessionID) + "?tenantId=demo"},
		{"user", f.admin(t, "demo"), usersPath("user_alice")},
		{"tenant", f.ops(t), tenantPath("demo")},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.revoke(t, c.auth, c.target)
			e := checkError(t, resp, http.StatusServiceUnavailable, "dependency_unavailable")
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n <= 0 {
				t.Errorf("Retry-After = %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
			}
			for _, leak := range []string{"6379", "refused", "redis"} {
				if strings.Contains(e.Message, leak) {
					t.Errorf("message %q reveals the cause (%q)", e.Message, leak)
				}
			}
			f.wantActive(t, true, map[string]string{"the session": s.SessionToken})
		})
	}
}
