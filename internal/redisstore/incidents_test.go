package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestIncidentCacheContract runs the cache contract on one server, each
// case in a namespace of its own. Redis keeps the TTLs itself: the
// contract's clock is not read.
func TestIncidentCacheContract(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	incidenttest.RunCache(t, func(*testing.T, func() time.Time) incident.Cache {
		return redisstore.NewIncidentCache(c, namespace())
	})
}

// TestIncidentCacheLayout pins the key, the value and the TTL described in
// the type's documentation.
func TestIncidentCacheLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	cases := []struct{ ns, tenant, id, key string }{
		{"wrev", "demo", "inc_1", "wrev:ctx:{demo}:inc_1"},
		{"", "demo", "inc_1", redis.DefaultNamespace + ":ctx:{demo}:inc_1"},
		{"n", "a:b|c", "d:e|f", "n:ctx:{a%3Ab%7Cc}:d%3Ae%7Cf"},
		{"n", "{x}", "%", "n:ctx:{%7Bx%7D}:%25"},
		{"n", "t/x", "ünï", "n:ctx:{t%2Fx}:%C3%BCn%C3%AF"},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			ic := redisstore.NewIncidentCache(c, tc.ns)
			if got := ic.Key(tc.tenant, tc.id); got != tc.key {
				t.Fatalf("Key = %q, want %q", got, tc.key)
			}
			inc := incidenttest.Sample(tc.id)
			inc.Tenant = tc.tenant
			if err := ic.Put(ctx, tc.tenant, tc.id, inc, 90*time.Second); err != nil {
				t.Fatal(err)
			}
			if ttl := c.TTL(ctx, tc.key).Val(); ttl <= 80*time.Second || ttl > 90*time.Second {
				t.Errorf("TTL = %v, want about 90s", ttl)
			}
			var got incident.Incident
			if err := json.Unmarshal([]byte(c.Get(ctx, tc.key).Val()), &got); err != nil || got.ID != tc.id || got.Tenant != tc.tenant {
				t.Errorf("value decodes to %s/%s, %v; want the incident's JSON", got.Tenant, got.ID, err)
			}
		})
	}
}

// TestIncidentCacheFailures: a stopped Redis and a corrupt value are
// errors wrapping incident.ErrUnavailable, never a miss.
func TestIncidentCacheFailures(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ic := redisstore.NewIncidentCache(c, namespace())

	if err := c.Set(ctx, ic.Key("demo", "inc_1"), "{not json", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := ic.Get(ctx, "demo", "inc_1"); ok || !errors.Is(err, incident.ErrUnavailable) {
		t.Errorf("Get(corrupt) = %v, %v; want ErrUnavailable", ok, err)
	}

	srv.Stop()
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, _, ok, err := ic.Get(short, "demo", "inc_1"); ok || !errors.Is(err, incident.ErrUnavailable) {
		t.Errorf("Get(Redis down) = %v, %v; want ErrUnavailable", ok, err)
	}
	if err := ic.Put(short, "demo", "inc_1", incidenttest.Sample("inc_1"), time.Minute); !errors.Is(err, incident.ErrUnavailable) {
		t.Errorf("Put(Redis down) = %v; want ErrUnavailable", err)
	}
}
