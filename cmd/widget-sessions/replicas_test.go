package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// propagationLimit is the promise: a revocation on one replica
// holds on every other within a second.
const propagationLimit = time.Second

// TestTwoReplicasOneRedis runs two servers on one Redis, one signing key
// and one identity provider: a session minted on A is active on B; revoked
// on A, by session, user or tenant, it is inactive on B within a second;
// tenant acme's session is untouched by all of demo's revocations.
func TestTwoReplicasOneRedis(t *testing.T) {
	t.Parallel()
	twoReplicas(t, redistest.Start(t).URL())
}

// twoReplicas is TestTwoReplicasOneRedis on the Redis at url (one server,
// a Cluster or Sentinel).
func twoReplicas(t *testing.T, url string) {
	c := newCluster(t, url, nil)
	a := startServer(t, c.env)
	b := startServer(t, c.env)
	demoAdmin, acmeAdmin := c.caller(t, "demo", "admin"), c.caller(t, "acme", "admin")
	ops, service := c.caller(t, "causeflow", "ops"), c.caller(t, "causeflow", "service")

	acme := a.mintCreated(t, acmeAdmin, `{"userId":"user_carol"}`)
	one := a.mintCreated(t, demoAdmin, `{"userId":"user_alice"}`)
	alice := a.mintCreated(t, demoAdmin, `{"userId":"user_alice"}`)
	bob := a.mintCreated(t, demoAdmin, `{"userId":"user_bob"}`)
	for what, tok := range map[string]string{"acme": acme.SessionToken, "one": one.SessionToken, "alice": alice.SessionToken, "bob": bob.SessionToken} {
		if !b.active(t, service, tok) {
			t.Fatalf("the %s session minted on A is not active on B", what)
		}
	}

	steps := []struct {
		name    string
		caller  string
		path    string
		revoked map[string]string // inactive on B within the limit
		intact  map[string]string // still active on B afterwards
	}{
		{"session", demoAdmin, "/v1/widget/sessions/" + one.SessionID,
			map[string]string{"the revoked session": one.SessionToken},
			map[string]string{"alice's other session": alice.SessionToken, "bob's session": bob.SessionToken}},
		{"user", demoAdmin, "/v1/widget/users/user_alice/sessions",
			map[string]string{"alice's session": alice.SessionToken},
			map[string]string{"bob's session": bob.SessionToken}},
		{"tenant (ops)", ops, "/v1/widget/tenants/demo/sessions",
			map[string]string{"bob's session": bob.SessionToken},
			nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			sent := time.Now()
			a.mustRevoke(t, st.caller, st.path)
			acked := time.Since(sent)
			for what, tok := range st.revoked {
				d := b.waitInactive(t, service, tok, propagationLimit)
				t.Logf("revoke %s on A: 204 after %v; %s inactive on B %v after the 204 (%v after the request)",
					st.name, acked, what, d, time.Since(sent))
			}
			for what, tok := range st.intact {
				if !b.active(t, service, tok) {
					t.Errorf("%s is inactive on B", what)
				}
			}
			if !b.active(t, service, acme.SessionToken) {
				t.Errorf("acme's session is inactive on B after demo's %s revocation", st.name)
			}
			if !a.active(t, service, acme.SessionToken) {
				t.Errorf("acme's session is inactive on A after demo's %s revocation", st.name)
			}
		})
	}

	// Sign out everywhere, then sign in: a session minted at once after a
	// revocation's 204, in the same second, on the other replica, is not
	// born revoked, on either.
	for i := range 10 {
		for _, rv := range []struct{ caller, path string }{
			{demoAdmin, "/v1/widget/users/user_bob/sessions"},
			{ops, "/v1/widget/tenants/demo/sessions"},
		} {
			a.mustRevoke(t, rv.caller, rv.path)
			s := b.mintCreated(t, demoAdmin, `{"userId":"user_bob"}`)
			if !a.active(t, service, s.SessionToken) || !b.active(t, service, s.SessionToken) {
				t.Fatalf("round %d: a session minted right after DELETE %s answered 204 is inactive", i, rv.path)
			}
		}
	}
}

// TestRunRefusesUnreachableRedis: a replica that cannot load the
// revocation set does not start, and says why without the URL's password.
func TestRunRefusesUnreachableRedis(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	rds.Stop() // the port is known and nothing answers on it
	const password = "s3cretRedisPassw0rd"
	err := runRefused(t, map[string]string{
		"WIDGET_REDIS_URL":   "redis://:" + password + "@" + rds.Addr(),
		"WIDGET_DEV_IDP_KEY": t.TempDir() + "/dev-idp.jwks.json",
	})
	if !strings.Contains(strings.ToLower(err.Error()), "redis") {
		t.Errorf("run = %v, want an error naming redis", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Error("the error repeats the Redis password")
	}
}

// TestRedisMetrics: with Redis, /metrics carries the mirror's age, its
// re-syncs, the revocation write latency, re-subscriptions and WAIT
// shortfalls; a revocation that no replica confirms counts one shortfall.
// A Redis with fewer replicas than WIDGET_REDIS_MIN_REPLICAS is said at
// start, on /readyz (still ready) and in the metrics, beside the clock's
// offset from Redis.
func TestRedisMetrics(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	c := newCluster(t, rds.URL(), map[string]string{"WIDGET_REDIS_MIN_REPLICAS": "1", "WIDGET_REDIS_WAIT_TIMEOUT": "50ms"})
	s := startServer(t, c.env)
	admin := c.caller(t, "demo", "admin")
	r := s.revoke(t, admin, "/v1/widget/users/user_bob/sessions")
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("a revocation no replica confirmed: %d %s, want 503", r.status, r.body)
	}
	body := string(s.get(t, s.internal+"/metrics").body)
	for _, want := range []string{
		"widget_sessions_revocation_mirror_age_seconds ",
		`widget_sessions_revocation_resyncs_total{reason="start"} 1`,
		`widget_sessions_revocation_write_duration_seconds_count{result="error"} 1`,
		`widget_sessions_redis_replication_shortfalls_total{write="revocation"} 1`,
		"widget_sessions_redis_replicas 0",
		"widget_sessions_redis_replicas_required 1",
		"widget_sessions_clock_offset_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(s.log.String(), "REDIS HAS TOO FEW REPLICAS: redis has 0 connected replicas and WIDGET_REDIS_MIN_REPLICAS is 1") {
		t.Errorf("the shortage of replicas was not said at start\nlog:\n%s", s.log)
	}
	if r := s.get(t, s.internal+"/readyz"); r.status != http.StatusOK || !strings.Contains(string(r.body), `"warnings":["redis has 0 connected replicas`) {
		t.Errorf("/readyz = %d %s, want 200 with the shortage", r.status, r.body)
	}
}
