package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/causeflow/widget-sessions/internal/etcdstore/etcdtest"
	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/etcd"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/revoke/revoketest"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
)

var prefixes atomic.Int64

// prefix returns a prefix no other test uses, so tests can share a cluster.
func prefix() string { return fmt.Sprintf("/test%d/", prefixes.Add(1)) }

func fast() etcd.Config {
	return etcd.Config{PollInterval: 50 * time.Millisecond, StalenessBudget: time.Second}
}

// seedMarker writes the marker, as a deployment's first replica did: the
// store is not found empty.
func seedMarker(t testing.TB, cli *clientv3.Client, prefix string) {
	t.Helper()
	if _, err := cli.Put(context.Background(), prefix+"marker", "seeded by the test"); err != nil {
		t.Fatal(err)
	}
}

func start(t testing.TB, cli *clientv3.Client, cfg etcd.Config) *etcd.Revocations {
	t.Helper()
	r, err := etcd.New(cli, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func sessionEntry(t testing.TB, tenant string) revoke.Entry {
	t.Helper()
	sid, err := sessionid.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e, err := revoke.SessionEntry(tenant, sid, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func claimsOf(e revoke.Entry) *token.Claims {
	return &token.Claims{Tenant: e.Tenant, SessionID: e.Subject, Subject: "user_alice", IssuedAt: time.Now().Unix(), Expiry: time.Now().Add(time.Hour).Unix()}
}

// TestContract: the etcd store passes the contract every revocation store
// passes (revoketest), on a real etcd member.
func TestContract(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.Options{})
	cli := c.Client()
	revoketest.Run(t, func(t *testing.T, now func() time.Time) revoke.Store {
		p := prefix()
		seedMarker(t, cli, p)
		cfg := fast()
		cfg.Prefix, cfg.Now = p, now
		return start(t, cli, cfg)
	})
}

// TestEmptyStoreRevokesAll: a store found without its marker (a new
// cluster, or its data lost) revokes every token issued before the
// detection, once.
func TestEmptyStoreRevokesAll(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.Options{})
	cli := c.Client()
	cfg := fast()
	cfg.Prefix = prefix()
	before := &token.Claims{Tenant: "acme", SessionID: "wsess_x", Subject: "u", IssuedAt: time.Now().Add(-time.Minute).Unix(), Expiry: time.Now().Add(time.Hour).Unix()}
	r := start(t, cli, cfg)
	if revoked, err := r.IsRevoked(before); err != nil || !revoked {
		t.Fatalf("a token issued before the store was found empty: revoked %v, %v", revoked, err)
	}
	resp, err := cli.Get(context.Background(), cfg.Prefix+"marker")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("marker %v, %v", resp, err)
	}
}

// TestTenantCap: a tenant's session and user entries are capped; revoking
// the whole tenant is never refused, and nothing of a refused entry is
// written.
func TestTenantCap(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.Options{})
	cli := c.Client()
	cfg := fast()
	cfg.Prefix, cfg.Limits = prefix(), revoke.Limits{MaxPerTenant: 3}
	seedMarker(t, cli, cfg.Prefix)
	r := start(t, cli, cfg)
	ctx := context.Background()
	for range 3 {
		if err := r.Revoke(ctx, sessionEntry(t, "acme")); err != nil {
			t.Fatal(err)
		}
	}
	refused := sessionEntry(t, "acme")
	if err := r.Revoke(ctx, refused); !errors.Is(err, revoke.ErrTenantLimit) {
		t.Fatalf("the fourth entry: %v, want ErrTenantLimit", err)
	}
	if revoked, _ := r.IsRevoked(claimsOf(refused)); revoked {
		t.Error("a refused entry revokes")
	}
	if err := r.Revoke(ctx, sessionEntry(t, "globex")); err != nil {
		t.Errorf("another tenant refused: %v", err)
	}
	if err := r.Revoke(ctx, revoke.TenantEntry("acme", time.Now(), 30*time.Second)); err != nil {
		t.Errorf("revoking the tenant refused: %v", err)
	}
}

// TestReplicasSeeEachOther: a revocation through one replica reaches
// another's mirror through the watch, well before any poll could matter,
// and its listeners hear of it.
func TestReplicasSeeEachOther(t *testing.T) {
	c := etcdtest.Start(t, 3, etcdtest.Options{})
	cfg := fast()
	cfg.Prefix = prefix()
	cfg.PollInterval, cfg.StalenessBudget = time.Hour, 2*time.Hour // only the watch can carry it
	seedMarker(t, c.Client(), cfg.Prefix)
	a := start(t, c.Client(c.Members[0].ClientURL), cfg)
	b := start(t, c.Client(c.Members[2].ClientURL), cfg)
	heard := make(chan revoke.Entry, 4)
	defer b.Subscribe(func(e revoke.Entry) { heard <- e })()
	e := sessionEntry(t, "acme")
	if err := a.Revoke(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the other replica's mirror", func() bool {
		revoked, err := b.IsRevoked(claimsOf(e))
		return err == nil && revoked
	})
	select {
	case got := <-heard:
		if got.Subject != e.Subject {
			t.Errorf("heard %+v, want %+v", got, e)
		}
	case <-time.After(5 * time.Second):
		t.Error("the other replica's listeners never heard")
	}
}

// TestQuorumLost: with two of three members down, a revocation is not
// acknowledged (ErrUnavailable, never nil), and a mirror that can no
// longer prove itself current fails closed within its budget, while a
// token it knows revoked stays revoked; with the quorum back, it is
// current again and the revocation can be made.
func TestQuorumLost(t *testing.T) {
	c := etcdtest.Start(t, 3, etcdtest.Options{})
	cfg := fast()
	cfg.Prefix = prefix()
	seedMarker(t, c.Client(), cfg.Prefix)
	r := start(t, c.Client(c.Members[0].ClientURL), cfg)
	known := sessionEntry(t, "acme")
	if err := r.Revoke(context.Background(), known); err != nil {
		t.Fatal(err)
	}
	c.Members[1].Stop()
	c.Members[2].Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e := sessionEntry(t, "acme")
	if err := r.Revoke(ctx, e); !errors.Is(err, revoke.ErrUnavailable) {
		t.Fatalf("a revocation without a quorum: %v, want ErrUnavailable", err)
	}
	wait.For(t, "the mirror to fail closed", func() bool {
		_, err := r.IsRevoked(claimsOf(sessionEntry(t, "acme")))
		return errors.Is(err, revoke.ErrStale)
	})
	if err := r.Fresh(); !errors.Is(err, revoke.ErrStale) {
		t.Errorf("Fresh = %v, want stale", err)
	}
	if revoked, err := r.IsRevoked(claimsOf(known)); !revoked || err != nil {
		t.Errorf("a token known revoked: %v, %v", revoked, err)
	}
	c.Members[1].Restart(t)
	wait.For(t, "the mirror current again", func() bool { return r.Fresh() == nil })
	if err := r.Revoke(context.Background(), e); err != nil {
		t.Fatalf("with the quorum back: %v", err)
	}
}

// TestCanary: a region's canary reaches every replica's observer, with
// the time it was written; it revokes nothing.
func TestCanary(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.Options{})
	cli := c.Client()
	got := make(chan string, 4)
	cfg := fast()
	cfg.Prefix = prefix()
	cfg.Observer.Canary = func(origin string, sent time.Time) {
		if age := time.Since(sent); age >= 0 && age < 5*time.Second {
			got <- origin
		}
	}
	seedMarker(t, cli, cfg.Prefix)
	r := start(t, cli, cfg)
	if err := r.Canary(context.Background(), "eu-west"); err != nil {
		t.Fatal(err)
	}
	select {
	case origin := <-got:
		if origin != "eu-west" {
			t.Errorf("canary from %q, want eu-west", origin)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the canary never arrived")
	}
	if r.Len() != 0 {
		t.Errorf("the canary revoked something: %v", r.Entries())
	}
}
