package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestClockOffset: a clock two seconds ahead of Redis's reads about +2 s,
// one behind about -2 s (within a second: the sign and unit are what is
// checked, not the network).
func TestClockOffset(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	for _, skew := range []time.Duration{2 * time.Second, -2 * time.Second} {
		off, unc, err := redis.ClockOffset(context.Background(), c, func() time.Time { return time.Now().Add(skew) })
		if err != nil {
			t.Fatal(err)
		}
		if d := off - skew; d < -time.Second || d > time.Second || unc < 0 {
			t.Errorf("a clock %v off Redis's measured %v (±%v)", skew, off, unc)
		}
	}
}

// TestReplicas counts the replicas connected to the master: none, then one
// once a replica has synced.
func TestReplicas(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	if n, err := redis.Replicas(ctx, c); err != nil || n != 0 {
		t.Fatalf("a lone master: %d replicas (%v), want 0", n, err)
	}
	redistest.StartReplica(t, srv)
	within(t, 10*time.Second, "the replica connected", func() bool {
		n, err := redis.Replicas(ctx, c)
		return err == nil && n == 1
	})
}
