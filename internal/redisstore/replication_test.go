package redisstore_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// TestAcknowledgedMeansReplicated: with a replica required, an event or a
// ticket is acknowledged once the replica has it; with the replica gone,
// neither is (ErrNotReplicated), and each shortfall is counted, as for
// revocations (pkg/redis).
func TestAcknowledgedMeansReplicated(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	c := client(t, master)
	ns := namespace()
	var shortfalls atomic.Int64
	repl := redis.Replication{MinReplicas: 1, Timeout: 200 * time.Millisecond, Shortfall: func(string) { shortfalls.Add(1) }}
	ctx := context.Background()
	log, err := redisstore.NewEventLog(c, redisstore.EventLogConfig{Namespace: ns, Replication: repl})
	if err != nil {
		t.Fatal(err)
	}
	tickets := redisstore.NewTickets(c, ns, 0, repl)
	claims := token.Claims{SessionID: newSID(t, time.Now()), Tenant: "acme"}
	ev, err := log.Append(ctx, claims.SessionID, "message.created", []byte(`{}`), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("Append with the replica up: %v", err)
	}
	if n := client(t, replica).XLen(ctx, redisstore.EventKey(ns, claims.SessionID)).Val(); n != 1 {
		t.Errorf("acknowledged event %s, but the replica holds %d entries", ev.ID, n)
	}
	if _, err := tickets.Issue(ctx, &claims, time.Minute); err != nil {
		t.Fatalf("Issue with the replica up: %v", err)
	}

	replica.Stop()
	if _, err := log.Append(ctx, claims.SessionID, "message.created", []byte(`{}`), time.Now().Add(time.Hour)); !errors.Is(err, redis.ErrNotReplicated) {
		t.Errorf("Append without the replica = %v, want ErrNotReplicated", err)
	}
	if _, err := tickets.Issue(ctx, &claims, time.Minute); !errors.Is(err, redis.ErrNotReplicated) {
		t.Errorf("Issue without the replica = %v, want ErrNotReplicated", err)
	}
	if n := shortfalls.Load(); n != 2 {
		t.Errorf("%d shortfalls counted, want 2", n)
	}
}
