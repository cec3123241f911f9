package main

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// Bounds of the fault test's waits. None is a timing assertion: each only
// limits how long the test waits for what must happen.
const (
	staleness     = 2 * time.Second // WIDGET_REVOCATION_STALENESS
	staleWithin   = 4 * time.Second // budget + a poll interval + slack
	recoverWithin = 5 * time.Second
)

// TestRedisOutage stops the real redis-server under a running replica and
// brings it back empty (persistence off):
//   - during the outage a revocation is 503, never 204;
//   - introspection answers while the mirror is within its staleness
//     budget, then fails closed with 503 revocation_state_unknown (never a
//     verdict), except for a token the mirror knows to be revoked; /readyz
//     turns 503;
//   - once Redis is back empty, the replica detects it and logs an error,
//     a session revoked before the outage stays revoked (as does every
//     token issued before the detection), a session minted after recovery
//     is active, and a replica started afterwards agrees.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	c := newCluster(t, rds.URL(), map[string]string{"WIDGET_REVOCATION_STALENESS": staleness.String()})
	a := startServer(t, c.env)
	admin, service := c.caller(t, "demo", "admin"), c.caller(t, "causeflow", "service")

	revoked := a.mintCreated(t, admin, `{"userId":"user_alice"}`)
	live := a.mintCreated(t, admin, `{"userId":"user_bob"}`)
	a.mustRevoke(t, admin, "/v1/widget/sessions/"+revoked.SessionID)
	if a.active(t, service, revoked.SessionToken) || !a.active(t, service, live.SessionToken) {
		t.Fatal("before the outage: the revoked session is active or the live one is not")
	}
	a.waitReady(t, http.StatusOK, recoverWithin)
	emptiedBefore := a.countInLog(emptiedRedisLine)

	rds.Stop()
	down := time.Now()

	t.Run("introspection within the staleness budget", func(t *testing.T) {
		if !a.active(t, service, live.SessionToken) {
			t.Error("a live token is inactive right after Redis stopped")
		}
	})

	t.Run("fails closed past the staleness budget", func(t *testing.T) {
		wait.Within(t, staleWithin-time.Since(down), "introspection fails closed after Redis stopped", func() bool {
			r := a.introspect(t, service, live.SessionToken)
			if r.status == http.StatusServiceUnavailable {
				if r.code() != "revocation_state_unknown" {
					t.Fatalf("503 with code %q, want revocation_state_unknown", r.code())
				}
				return true
			}
			if active, ok := r.verdict(t); !ok || !active {
				t.Fatalf("while Redis is down: %d %s, want active or 503 revocation_state_unknown", r.status, r.body)
			}
			return false
		}, func() string { return fmt.Sprintf("budget %v\nlog:\n%s", staleness, a.log) })
		t.Logf("introspection failed closed %v after Redis stopped (budget %v)", time.Since(down), staleness)
		// What the mirror knows to be revoked, it still says.
		if a.active(t, service, revoked.SessionToken) {
			t.Error("the revoked session is active while the mirror is stale")
		}
		a.waitReady(t, http.StatusServiceUnavailable, time.Second)
		if !strings.Contains(a.log.String(), "revocation mirror is stale") {
			t.Error("the stale mirror was not logged")
		}
	})

	t.Run("revoke during the outage", func(t *testing.T) {
		for _, path := range []string{
			"/v1/widget/sessions/" + live.SessionID,
			"/v1/widget/users/user_bob/sessions",
		} {
			sent := time.Now()
			r := a.revoke(t, admin, path)
			t.Logf("DELETE %s during the outage answered %d after %v", path, r.status, time.Since(sent))
			if r.status != http.StatusServiceUnavailable || r.code() != "dependency_unavailable" {
				t.Fatalf("DELETE %s: %d %s, want 503 dependency_unavailable (never 204)", path, r.status, r.body)
			}
			if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n <= 0 {
				t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
			}
		}
	})

	rds.Restart() // empty: persistence is off
	t.Run("Redis back empty", func(t *testing.T) {
		wait.Within(t, recoverWithin, "the emptied Redis logged", func() bool { return a.countInLog(emptiedRedisLine) > emptiedBefore },
			func() string { return "log:\n" + a.log.String() })
		a.waitReady(t, http.StatusOK, recoverWithin)
		if a.active(t, service, revoked.SessionToken) {
			t.Error("a session revoked before the outage is active again")
		}
		if a.active(t, service, live.SessionToken) {
			t.Error("a session issued before the emptied Redis was detected is active")
		}
		fresh := a.mintCreated(t, admin, `{"userId":"user_alice"}`)
		if !a.active(t, service, fresh.SessionToken) {
			t.Fatal("a session minted after recovery is inactive")
		}

		// A replica started now knows only what Redis holds.
		b := startServer(t, c.env)
		if b.active(t, service, revoked.SessionToken) || b.active(t, service, live.SessionToken) {
			t.Error("a replica started after recovery finds a pre-outage session active")
		}
		if !b.active(t, service, fresh.SessionToken) {
			t.Error("a replica started after recovery finds the new session inactive")
		}
		a.mustRevoke(t, admin, "/v1/widget/sessions/"+fresh.SessionID)
		b.waitInactive(t, service, fresh.SessionToken, propagationLimit)
	})
}
