package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ClockOffset measures how far the clock now reads (time.Now when nil) is
// from Redis's (TIME): positive when ours is ahead. It is the difference
// to the midpoint of the round trip, so it is within half the round trip,
// returned as uncertainty, of the truth. Revocation cutoffs are written
// with one replica's clock and compared with tokens minted on another's:
// the offsets of the replicas from one Redis show how far apart they are.
// On a Cluster, TIME goes to one node of it.
func ClockOffset(ctx context.Context, client goredis.UniversalClient, now func() time.Time) (offset, uncertainty time.Duration, err error) {
	if now == nil {
		now = time.Now
	}
	sent := now()
	theirs, err := client.Time(ctx).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("redis: TIME: %w", err)
	}
	rtt := now().Sub(sent)
	mid := sent.Add(rtt / 2)
	return mid.Sub(theirs), rtt / 2, nil
}

// Replicas returns how many replicas are connected to the master (INFO
// replication, connected_slaves), or to the master that has the fewest on
// a Cluster: a write that WAITs for more than that cannot be acknowledged.
func Replicas(ctx context.Context, client goredis.UniversalClient) (int, error) {
	cluster, ok := client.(*goredis.ClusterClient)
	if !ok {
		return connectedReplicas(ctx, client)
	}
	var mu sync.Mutex
	fewest := -1
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
		n, err := connectedReplicas(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if fewest < 0 || n < fewest {
			fewest = n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return max(fewest, 0), nil
}

func connectedReplicas(ctx context.Context, c goredis.Cmdable) (int, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, fmt.Errorf("redis: INFO replication: %w", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, fmt.Errorf("redis: INFO replication has no connected_slaves")
}
