package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/etcdstore/etcdtest"
	"github.com/causeflow/widget-sessions/internal/wait"
)

// TestRevocationsOnEtcd: three replicas, one per region, each on its own
// state (memory) but sharing the revocation store on a three-member etcd
// cluster. A session minted in one region is revoked in another and
// every region answers inactive; with the quorum lost, a revocation is
// never 204, and the replicas fail closed (503 revocation_state_unknown,
// not ready, isolated on /metrics) once the budget passes, while minting
// stays local; with the quorum back they serve again. Every region's
// canary reaches the others. (make test-regions puts the regions in
// network namespaces and measures the bounds.)
func TestRevocationsOnEtcd(t *testing.T) {
	t.Parallel()
	etcd := etcdtest.Start(t, 3, etcdtest.Options{})
	c := newCluster(t, "", map[string]string{"WIDGET_REVOCATION_STALENESS": "2s"})
	var regions []*testServer
	for i, name := range []string{"eu", "us", "ap"} {
		env := map[string]string{"WIDGET_REGION": name, "WIDGET_REVOCATION_ETCD": "etcd://" + strings.TrimPrefix(etcd.Members[i].ClientURL, "http://")}
		for k, v := range c.env {
			env[k] = v
		}
		regions = append(regions, startServer(t, env))
	}
	eu, us := regions[0], regions[1]
	admin, service := c.caller(t, "demo", "admin"), c.caller(t, "causeflow", "service")

	m := eu.mintCreated(t, admin, `{"userId":"user_alice"}`)
	for _, s := range regions {
		if active, ok := s.introspect(t, service, m.SessionToken).verdict(t); !ok || !active {
			t.Fatalf("a fresh token is not active in every region")
		}
	}
	us.mustRevoke(t, admin, "/v1/widget/sessions/"+m.SessionID)
	for i, s := range regions {
		wait.For(t, fmt.Sprintf("region %d to see the revocation", i), func() bool {
			active, ok := s.introspect(t, service, m.SessionToken).verdict(t)
			return ok && !active
		})
	}
	// The regions started after eu wrote their canaries as they started,
	// while eu watched.
	wait.For(t, "the other regions' canaries in eu", func() bool {
		metrics := string(eu.get(t, eu.internal+"/metrics").body)
		return strings.Contains(metrics, `widget_sessions_revocation_canary_seconds_count{origin="us"}`) &&
			strings.Contains(metrics, `widget_sessions_revocation_canary_seconds_count{origin="ap"}`)
	})

	// The quorum lost: two members down.
	live := eu.mintCreated(t, admin, `{"userId":"user_bob"}`)
	etcd.Members[1].Stop()
	etcd.Members[2].Stop()
	if r := eu.revoke(t, admin, "/v1/widget/sessions/"+live.SessionID); r.status != http.StatusServiceUnavailable {
		t.Errorf("a revocation without the quorum: %d %s, want 503", r.status, r.body)
	}
	wait.For(t, "eu to fail closed", func() bool {
		r := eu.introspect(t, service, live.SessionToken)
		return r.status == http.StatusServiceUnavailable && r.code() == "revocation_state_unknown"
	})
	if r := eu.get(t, eu.internal+"/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz while isolated: %d, want 503", r.status)
	}
	if !strings.Contains(string(eu.get(t, eu.internal+"/metrics").body), "widget_sessions_region_isolated 1") {
		t.Error("/metrics does not say the region is isolated")
	}
	if active, ok := eu.introspect(t, service, m.SessionToken).verdict(t); !ok || active {
		t.Error("a token the region knows revoked is not refused while isolated")
	}
	eu.mintCreated(t, admin, `{"userId":"user_alice"}`) // signing needs no other region

	etcd.Members[1].Restart(t)
	wait.For(t, "eu ready again", func() bool { return eu.get(t, eu.internal+"/readyz").status == http.StatusOK })
	eu.mustRevoke(t, admin, "/v1/widget/sessions/"+live.SessionID)
	wait.For(t, "us to see it", func() bool {
		active, ok := us.introspect(t, service, live.SessionToken).verdict(t)
		return ok && !active
	})
}
