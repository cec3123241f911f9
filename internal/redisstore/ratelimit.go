package redisstore

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/pkg/redis"
)

// allowScript counts one event of KEYS[1] in a fixed window of ARGV[1]
// milliseconds and returns {count, milliseconds left in the window}. The
// first event of a window sets its expiry; a counter found without one (its
// PEXPIRE lost, say, by a failover between the two writes of an older
// version) gets one, so no key can count forever.
var allowScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// RateLimiter is the fixed-window limiter on Redis: every replica counts
// into the same window. Each key is one counter,
//
//	<namespace>:rl:<key>
//
// key escaped as in IncidentCache, incremented by a script that also sets
// the window's expiry on the first event: one round trip, atomic, so of
// concurrent events exactly N are allowed. It is safe for concurrent use.
type RateLimiter struct {
	client goredis.UniversalClient
	ns     string
	n      int64
	window time.Duration
}

// NewRateLimiter returns a limiter of n events per window per key over
// client, its keys under namespace (DefaultNamespace when ""). The window
// has millisecond resolution.
func NewRateLimiter(client goredis.UniversalClient, namespace string, n int, window time.Duration) (*RateLimiter, error) {
	if err := ratelimit.CheckRule(n, window); err != nil {
		return nil, err
	}
	if namespace == "" {
		namespace = redis.DefaultNamespace
	}
	return &RateLimiter{client: client, ns: namespace, n: int64(n), window: window}, nil
}

// Key returns the counter of key.
func (l *RateLimiter) Key(key string) string { return l.ns + ":rl:" + keyPart(key) }

// Allow counts an event of key. A Redis failure is an error wrapping
// ratelimit.ErrUnavailable.
func (l *RateLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := allowScript.Run(ctx, l.client, []string{l.Key(key)}, l.window.Milliseconds()).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("unexpected reply %v", res)
	}
	if err != nil {
		return false, 0, fmt.Errorf("redis: rate limit: %w: %w", ratelimit.ErrUnavailable, err)
	}
	if res[0] <= l.n {
		return true, 0, nil
	}
	// PTTL rounds down: a window with less than a millisecond left still
	// refuses, for at least that millisecond.
	retry := min(max(time.Duration(res[1])*time.Millisecond, time.Millisecond), l.window)
	return false, retry, nil
}
