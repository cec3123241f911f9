package main

// The attacks of a hostile tenant, each run through the real HTTP stack on
// the embedded default (memory) and on a real redis-server: what answers,
// and what is stored, never how long anything takes. The attacker holds
// one tenant's admin caller JWT (and, for the edge, one session token).

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// backend is one way of running the service: on memory, or on a real
// redis-server (rdb is nil on memory).
type backend struct {
	name string
	url  string
	rdb  goredis.UniversalClient
}

// onBackends runs fn on memory and on a fresh redis-server.
func onBackends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("memory", func(t *testing.T) { fn(t, backend{name: "memory"}) })
	t.Run("redis", func(t *testing.T) { fn(t, startRedis(t)) })
}

// startRedis starts a redis-server and a client of it, closed on cleanup.
func startRedis(t *testing.T) backend {
	t.Helper()
	rds := redistest.Start(t)
	c, err := redis.NewClient(rds.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return backend{name: "redis", url: rds.URL(), rdb: c}
}

// revocationKeys is the revocation layout of the test environment.
var revocationKeys = redis.LayoutOf("wrev-test")

// cappedEntries counts the session and user entries in Redis (not the
// marker, nor the all entry a brand-new Redis gets).
func cappedEntries(t *testing.T, rdb goredis.UniversalClient) int {
	t.Helper()
	n := 0
	for field := range rdb.HGetAll(t.Context(), revocationKeys.Entries).Val() {
		if strings.HasPrefix(field, "session|") || strings.HasPrefix(field, "user|") {
			n++
		}
	}
	return n
}

// sidAt returns a session id whose KSUID time is at.
func sidAt(t *testing.T, at time.Time) string {
	t.Helper()
	sid, err := sessionid.New(at)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func wantStatus(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && r.code() != code) {
		t.Fatalf("status %d %s, want %d %s", r.status, r.body, status, code)
	}
}

// TestAbuseFutureSessionIDs: revoking session ids whose KSUID time lies
// beyond now + leeway answers 204 (ids still cannot be probed) and stores
// nothing; an id a moment in the future, within the leeway, is stored with
// an expiry of at most now + 24 h + leeway. The per-tenant cap of 3 shows,
// on memory, that the future ids took no place.
func TestAbuseFutureSessionIDs(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := newCluster(t, b.url, map[string]string{"WIDGET_REVOCATION_MAX_PER_TENANT": "3"})
		s := startServer(t, c.env)
		admin := c.caller(t, "demo", "admin")
		for _, at := range []time.Time{
			// Past now + leeway (30 s) by a second at least: a KSUID keeps
			// whole seconds, and the server reads its clock a moment later.
			time.Now().Add(32 * time.Second), time.Now().Add(time.Hour),
			time.Unix(4102444800, 0), // 2100
			time.Unix(5000000000, 0), // 2128, about KSUID's last second
		} {
			for range 3 {
				s.mustRevoke(t, admin, "/v1/widget/sessions/"+sidAt(t, at))
			}
		}
		if b.rdb != nil {
			if n := cappedEntries(t, b.rdb); n != 0 {
				t.Fatalf("Redis holds %d session or user entries after revoking future ids, want none", n)
			}
		}
		// Three real revocations still fit the tenant's cap of 3.
		var tokens []string
		for range 3 {
			sess := s.mintCreated(t, admin, `{"userId": "user_alice"}`)
			s.mustRevoke(t, admin, "/v1/widget/sessions/"+sess.SessionID)
			tokens = append(tokens, sess.SessionToken)
		}
		service := c.caller(t, "causeflow", "service")
		for _, tok := range tokens {
			if s.active(t, service, tok) {
				t.Error("a revoked session is active")
			}
		}
		// Within the leeway: stored, its expiry bounded by now + 24 h + leeway.
		ops := c.caller(t, "causeflow", "ops")
		near := sidAt(t, time.Now().Add(20*time.Second))
		s.mustRevoke(t, ops, "/v1/widget/sessions/"+near+"?tenantId=acme")
		if b.rdb != nil {
			bound := time.Now().Add(widget.MaxTTL + 30*time.Second + time.Second).Unix()
			for _, z := range b.rdb.ZRangeWithScores(t.Context(), revocationKeys.Expiry, 0, -1).Val() {
				if int64(z.Score) > bound {
					t.Errorf("entry %s expires at %d, later than now + 24 h + leeway (%d)", z.Member, int64(z.Score), bound)
				}
			}
		}
	})
}

// TestAbuseLegacyEntriesClamped: entries an older version stored with an
// attacker-chosen expiry (year 2150) are clamped to now + 24 h + leeway by
// the next write, in Redis and in the mirror, so they leave within a day.
func TestAbuseLegacyEntriesClamped(t *testing.T) {
	rds := startRedis(t)
	rdb := rds.rdb
	ctx := context.Background()
	rdb.HSet(ctx, revocationKeys.Entries, redis.MarkerField, "seeded")
	far := time.Unix(5680281600, 0).Unix() // 2150
	for i := range 20 {
		field := fmt.Sprintf("session|demo|wsess_legacy%022d", i)
		rdb.HSet(ctx, revocationKeys.Entries, field, fmt.Sprintf(`{"before":0,"expires":%d}`, far))
		rdb.ZAdd(ctx, revocationKeys.Expiry, goredis.Z{Score: float64(far), Member: field})
	}
	c := newCluster(t, rds.url, nil)
	s := startServer(t, c.env)
	s.mustRevoke(t, c.caller(t, "demo", "admin"), "/v1/widget/users/user_bob/sessions")
	bound := time.Now().Add(widget.MaxTTL + 31*time.Second).Unix()
	for _, z := range rdb.ZRangeWithScores(ctx, revocationKeys.Expiry, 0, -1).Val() {
		if int64(z.Score) > bound {
			t.Errorf("%s still expires at %d after a write, want at most %d", z.Member, int64(z.Score), bound)
		}
		v := rdb.HGet(ctx, revocationKeys.Entries, z.Member.(string)).Val()
		if want := fmt.Sprintf(`"expires":%d}`, int64(z.Score)); len(v) < len(want) || v[len(v)-len(want):] != want {
			t.Errorf("%s: stored %s, its index says %d", z.Member, v, int64(z.Score))
		}
	}
}

// TestAbuseRevocationRateLimit: one tenant's revocation requests are
// limited, across replicas on Redis (429 with Retry-After); another
// tenant, and the operator acting on the attacker's tenant, are not.
func TestAbuseRevocationRateLimit(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := newCluster(t, b.url, map[string]string{"WIDGET_REVOCATION_RATE_LIMIT": "6", "WIDGET_REVOCATION_RATE_WINDOW": "1h"})
		replicas := []*testServer{startServer(t, c.env)}
		if b.rdb != nil {
			replicas = append(replicas, startServer(t, c.env)) // the count is shared
		}
		attacker := c.caller(t, "acme", "admin")
		for i := range 6 {
			replicas[i%len(replicas)].mustRevoke(t, attacker, "/v1/widget/users/user_"+strconv.Itoa(i)+"/sessions")
		}
		for _, s := range replicas {
			r := s.revoke(t, attacker, "/v1/widget/sessions/"+sidAt(t, time.Now()))
			wantStatus(t, r, http.StatusTooManyRequests, "rate_limited")
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
				t.Errorf("Retry-After %q, want 1..3600 seconds", r.header.Get("Retry-After"))
			}
		}
		for _, s := range replicas {
			s.mustRevoke(t, c.caller(t, "demo", "admin"), "/v1/widget/users/user_alice/sessions")
			s.mustRevoke(t, c.caller(t, "causeflow", "ops"), "/v1/widget/tenants/acme/sessions")
		}
	})
}

// TestAbuseTenantEntryCap: a tenant holds at most its cap of live session
// and user entries (429 revocation_limit_reached past it, nothing
// written); re-revoking an entry it holds, another tenant, and the
// operator revoking the whole tenant all still work.
func TestAbuseTenantEntryCap(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := newCluster(t, b.url, map[string]string{"WIDGET_REVOCATION_MAX_PER_TENANT": "4"})
		s := startServer(t, c.env)
		attacker := c.caller(t, "acme", "admin")
		first := sidAt(t, time.Now())
		s.mustRevoke(t, attacker, "/v1/widget/sessions/"+first)
		for i := range 3 {
			s.mustRevoke(t, attacker, "/v1/widget/users/user_"+strconv.Itoa(i)+"/sessions")
		}
		r := s.revoke(t, attacker, "/v1/widget/sessions/"+sidAt(t, time.Now()))
		wantStatus(t, r, http.StatusTooManyRequests, "revocation_limit_reached")
		if r.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if b.rdb != nil {
			if n := cappedEntries(t, b.rdb); n != 4 {
				t.Errorf("Redis holds %d session and user entries, want the tenant's 4", n)
			}
		}
		s.mustRevoke(t, attacker, "/v1/widget/sessions/"+first) // already held: merged, not counted
		demo := c.caller(t, "demo", "admin")
		victim := s.mintCreated(t, demo, `{"userId": "user_alice"}`)
		s.mustRevoke(t, demo, "/v1/widget/sessions/"+victim.SessionID)
		if s.active(t, c.caller(t, "causeflow", "service"), victim.SessionToken) {
			t.Error("another tenant's revocation did not take")
		}
		s.mustRevoke(t, c.caller(t, "causeflow", "ops"), "/v1/widget/tenants/acme/sessions")
	})
}

// TestAbuseRolesWithoutOwner: the ops and service roles in a caller token
// of any tenant but the operator's give no power at all.
func TestAbuseRolesWithoutOwner(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := newCluster(t, b.url, nil)
		s := startServer(t, c.env)
		victim := s.mintCreated(t, c.caller(t, "demo", "admin"), `{"userId": "user_alice"}`)
		forged := c.caller(t, "acme", "ops", "service")
		for _, path := range []string{
			"/v1/widget/tenants/demo/sessions",
			"/v1/widget/users/user_alice/sessions?tenantId=demo",
			"/v1/widget/sessions/" + victim.SessionID + "?tenantId=demo",
		} {
			wantStatus(t, s.revoke(t, forged, path), http.StatusForbidden, "forbidden")
		}
		wantStatus(t, s.introspect(t, forged, victim.SessionToken), http.StatusForbidden, "forbidden")
		wantStatus(t, s.introspect(t, c.caller(t, "demo", "service"), victim.SessionToken), http.StatusForbidden, "forbidden")
		service := c.caller(t, "causeflow", "service")
		if !s.active(t, service, victim.SessionToken) {
			t.Fatal("the forged roles revoked the session")
		}
		s.mustRevoke(t, c.caller(t, "causeflow", "ops"), "/v1/widget/tenants/demo/sessions")
		if s.active(t, service, victim.SessionToken) {
			t.Error("the operator's revocation did not take")
		}
	})
}

// TestAbuseTicketFlood: one session asking for tickets in a loop gets its
// bound of outstanding tickets, then 429; every other session still gets
// its own. The rate limit stops a session that redeems as fast as it asks.
func TestAbuseTicketFlood(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := newCluster(t, b.url, map[string]string{"WIDGET_MAX_TICKETS_PER_SESSION": "3", "WIDGET_STREAM_TICKET_RATE_LIMIT": "8"})
		s := startServer(t, c.env)
		admin := c.caller(t, "demo", "admin")
		greedy := s.mintCreated(t, admin, `{"userId": "user_alice"}`)
		other := s.mintCreated(t, admin, `{"userId": "user_bob"}`)
		var held []string
		for range 3 {
			held = append(held, s.ticket(t, greedy.SessionID, greedy.SessionToken))
		}
		path := s.public + "/v1/widget/sessions/" + greedy.SessionID + "/stream-tickets"
		for range 3 {
			wantStatus(t, s.do(t, http.MethodPost, path, bearer(greedy.SessionToken), ""), http.StatusTooManyRequests, "too_many_tickets")
		}
		s.ticket(t, other.SessionID, other.SessionToken) // unaffected
		if b.rdb != nil {
			keys := b.rdb.Keys(t.Context(), "widget-test:tk:*").Val()
			if len(keys) != 4 {
				t.Errorf("Redis holds %d tickets, want the 3 of the greedy session and 1 other", len(keys))
			}
		}
		// Redeeming frees a place, until the session's rate runs out:
		// 3 + 3 refused + 2 more = 8 counted, the 9th is refused by rate.
		for _, tk := range held[:2] {
			s.openStream(t, s.streamURL(greedy.SessionID)+"?ticket="+tk, nil, http.StatusOK).Body.Close()
			s.ticket(t, greedy.SessionID, greedy.SessionToken)
		}
		wantStatus(t, s.do(t, http.MethodPost, path, bearer(greedy.SessionToken), ""), http.StatusTooManyRequests, "rate_limited")
	})
}

// openStream opens a stream and returns the response once its headers are
// in, requiring status; the caller closes the body.
func (s *testServer) openStream(t *testing.T, url string, hdr map[string]string, status int) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		b := make([]byte, 512)
		n, _ := resp.Body.Read(b)
		resp.Body.Close()
		t.Fatalf("GET %s: status %d %s, want %d", url, resp.StatusCode, b[:n], status)
	}
	return resp
}

// TestAbuseStreamsPerClient: one client address holds at most its bound of
// open streams, whatever sessions it uses; behind a trusted proxy each
// forwarded address has a bound of its own, and a client that is not a
// trusted proxy cannot pick its address with X-Forwarded-For.
func TestAbuseStreamsPerClient(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		for _, trusted := range []bool{false, true} {
			t.Run(fmt.Sprintf("trusted proxy %v", trusted), func(t *testing.T) {
				extra := map[string]string{"WIDGET_MAX_STREAMS_PER_CLIENT": "2"}
				if trusted {
					extra["WIDGET_TRUSTED_PROXIES"] = "127.0.0.1"
				}
				c := newCluster(t, b.url, extra)
				s := startServer(t, c.env)
				admin := c.caller(t, "demo", "admin")
				var sessions []createSessionResponse
				for range 4 {
					sessions = append(sessions, s.mintCreated(t, admin, `{"userId": "user_alice"}`))
				}
				open := func(i int, from string) *http.Response {
					hdr := bearer(sessions[i].SessionToken)
					hdr["X-Forwarded-For"] = from
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.streamURL(sessions[i].SessionID), nil)
					for k, v := range hdr {
						req.Header.Set(k, v)
					}
					resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { resp.Body.Close() })
					return resp
				}
				for i := range 2 {
					if r := open(i, "203.0.113.1"); r.StatusCode != http.StatusOK {
						t.Fatalf("stream %d: status %d, want 200", i, r.StatusCode)
					}
				}
				r := open(2, "203.0.113.1")
				if r.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("a third stream from one address: status %d, want 429", r.StatusCode)
				}
				// Another forwarded address: its own bound behind a trusted
				// proxy; the same peer, hence refused, otherwise.
				want := http.StatusTooManyRequests
				if trusted {
					want = http.StatusOK
				}
				if r := open(3, "198.51.100.7"); r.StatusCode != want {
					t.Errorf("a stream forwarded for another address: status %d, want %d", r.StatusCode, want)
				}
			})
		}
	})
}

// TestAbusePartialLoss: the revocation entries vanish from Redis while
// the rest stays (what an evicting maxmemory-policy, or a DEL, does). A
// replica started afterwards finds the marker gone with them and fails
// safe: every token issued before is revoked, the revoked one included.
func TestAbusePartialLoss(t *testing.T) {
	rds := startRedis(t)
	rdb := rds.rdb
	c := newCluster(t, rds.url, nil)
	a := startServer(t, c.env)
	admin, service := c.caller(t, "demo", "admin"), c.caller(t, "causeflow", "service")
	revoked := a.mintCreated(t, admin, `{"userId": "user_alice"}`)
	a.mustRevoke(t, admin, "/v1/widget/sessions/"+revoked.SessionID)
	a.stop(t) // no older replica left to write the entry back

	if err := rdb.Del(t.Context(), revocationKeys.Entries).Err(); err != nil {
		t.Fatal(err)
	}
	if rdb.Exists(t.Context(), revocationKeys.Version, revocationKeys.Expiry).Val() != 2 {
		t.Fatal("the test meant to keep the version and the index")
	}
	b := startServer(t, c.env)
	if b.active(t, service, revoked.SessionToken) {
		t.Fatal("a revoked token is active after its entry was lost")
	}
	if !b.log.waitFor(emptiedRedisLine, time.Second) {
		t.Errorf("no error logged about the lost entries\nlog:\n%s", b.log)
	}
}

// TestAbuseEvictingRedis: outside live, a Redis whose maxmemory-policy may
// evict the revocation keys starts with an error-level warning (live
// refuses it: TestLiveRefusesDevelopmentSettings).
func TestAbuseEvictingRedis(t *testing.T) {
	rds := startRedis(t)
	rdb := rds.rdb
	if err := rdb.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, newCluster(t, rds.url, nil).env)
	if !s.log.waitFor("REDIS MAY EVICT REVOCATIONS", time.Second) || !s.log.waitFor(`"level":"error"`, time.Second) {
		t.Errorf("no error-level warning about allkeys-lfu\nlog:\n%s", s.log)
	}
}

// TestAbuseMirrorBound: a Redis holding more entries than the mirror may
// hold is refused at start (the replica does not start), and a running
// replica whose Redis grows past the bound fails closed (503, not ready)
// rather than grow without bound.
func TestAbuseMirrorBound(t *testing.T) {
	rds := startRedis(t)
	c := newCluster(t, rds.url, map[string]string{"WIDGET_REVOCATION_MAX_ENTRIES": "4", "WIDGET_REVOCATION_MAX_PER_TENANT": "2"})
	s := startServer(t, c.env)
	service := c.caller(t, "causeflow", "service")
	live := s.mintCreated(t, c.caller(t, "demo", "admin"), `{"userId": "user_alice"}`)
	for _, tenant := range []string{"demo", "acme", "t3"} {
		admin := c.caller(t, tenant, "admin")
		for i := range 2 {
			if r := s.revoke(t, admin, "/v1/widget/users/user_"+strconv.Itoa(i)+"/sessions"); r.status != http.StatusNoContent {
				break // the store may refuse once the mirror is full; either way it must not grow
			}
		}
	}
	wantStatus(t, s.introspect(t, service, live.SessionToken), http.StatusServiceUnavailable, "revocation_state_unknown")
	s.waitReady(t, http.StatusServiceUnavailable, 5*time.Second)

	if err := runRefused(t, c.env); err == nil {
		t.Fatal("a replica started on an over-full Redis")
	}
}
