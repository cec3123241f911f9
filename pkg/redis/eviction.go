package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// ErrEvicting is wrapped by the error of CheckEviction when a server's
// maxmemory-policy may evict keys without a TTL: the revocation entries,
// which must never silently go.
var ErrEvicting = errors.New("redis: maxmemory-policy can evict the revocation keys")

// CheckEviction reads maxmemory-policy from the server, or from every master
// of a Cluster, and returns the policies found. The error wraps ErrEvicting
// when one of them is allkeys-*: those evict any key under memory pressure,
// the revocation entries included, which have no TTL. noeviction and the
// volatile-* policies only evict keys with a TTL (tickets, event logs, rate
// counters, the context cache), never the revocation keys. Any other error
// means the policy could not be read (CONFIG is disabled on some managed
// services): the caller decides.
func CheckEviction(ctx context.Context, client goredis.UniversalClient) ([]string, error) {
	var (
		mu       sync.Mutex
		policies []string
	)
	read := func(ctx context.Context, c *goredis.Client) error {
		v, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		if err != nil {
			return fmt.Errorf("redis: read maxmemory-policy: %w", err)
		}
		p, ok := v["maxmemory-policy"]
		if !ok {
			return errors.New("redis: read maxmemory-policy: not reported")
		}
		mu.Lock()
		policies = append(policies, p)
		mu.Unlock()
		return nil
	}
	var err error
	switch c := client.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, read)
	case *goredis.Client:
		err = read(ctx, c)
	default:
		err = fmt.Errorf("redis: read maxmemory-policy: unsupported client %T", client)
	}
	if err != nil {
		return policies, err
	}
	for _, p := range policies {
		if strings.HasPrefix(p, "allkeys-") {
			return policies, fmt.Errorf("%w: %s (use noeviction, or a volatile-* policy)", ErrEvicting, p)
		}
	}
	return policies, nil
}
