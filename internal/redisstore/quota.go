package redisstore

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/pkg/redis"
)

// quotaScript drops the tenant's expired logs (and their bytes), then, in
// "admit" mode, refuses a new session past ARGV[4] logs (1) or any past
// ARGV[5] bytes (2); otherwise it records the session's log until ARGV[3]
// and counts ARGV[7] bytes to it, and returns 0. The keys live a day past
// the latest log they count.
//
//	KEYS[1] sessions: sorted set, session → its log's expiry (ms)
//	KEYS[2] bytes:    hash, session → bytes
//	KEYS[3] total:    the tenant's bytes
//	ARGV: now ms, session, expiry ms, max sessions (0: none), max bytes (0: none), mode, bytes
var quotaScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, s in ipairs(expired) do
  local b = tonumber(redis.call('HGET', KEYS[2], s) or '0')
  redis.call('DECRBY', KEYS[3], b)
  redis.call('HDEL', KEYS[2], s)
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
if ARGV[6] == 'usage' then
  return {redis.call('ZCARD', KEYS[1]), tonumber(redis.call('GET', KEYS[3]) or '0')}
end
local maxSessions, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[5])
local known = redis.call('ZSCORE', KEYS[1], ARGV[2])
if ARGV[6] == 'admit' then
  if not known and maxSessions > 0 and redis.call('ZCARD', KEYS[1]) >= maxSessions then
    return 1
  end
  if maxBytes > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= maxBytes then
    return 2
  end
end
local expires = tonumber(ARGV[3])
if not known or tonumber(known) < expires then
  redis.call('ZADD', KEYS[1], expires, ARGV[2])
end
redis.call('HINCRBY', KEYS[2], ARGV[2], ARGV[7])
redis.call('INCRBY', KEYS[3], ARGV[7])
local ttl = expires - now + 86400000
for i = 1, 3 do
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 0
`)

// Quota is the quota.Store on Redis: every replica counts into the same
// keys per tenant, one hash slot each ({tenant}),
//
//	<namespace>:quota:{<tenant>}:sessions, :bytes, :total
//
// tenant escaped as in IncidentCache, updated by one script: atomic, so of
// concurrent admits exactly the cap pass.
type Quota struct {
	client goredis.UniversalClient
	ns     string
}

var _ quota.Store = (*Quota)(nil)

// NewQuota returns the quota store over client, its keys under namespace
// (DefaultNamespace when "").
func NewQuota(client goredis.UniversalClient, namespace string) *Quota {
	if namespace == "" {
		namespace = redis.DefaultNamespace
	}
	return &Quota{client: client, ns: namespace}
}

// Keys returns the tenant's three keys.
func (q *Quota) Keys(tenant string) []string {
	base := q.ns + ":quota:{" + keyPart(tenant) + "}"
	return []string{base + ":sessions", base + ":bytes", base + ":total"}
}

func (q *Quota) run(ctx context.Context, tenant, sid, mode string, now, expires time.Time, n int64, lim quota.Limits) (any, error) {
	v, err := quotaScript.Run(ctx, q.client, q.Keys(tenant), now.UnixMilli(), sid, expires.UnixMilli(),
		lim.Sessions, lim.Bytes, mode, n).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", quota.ErrUnavailable, err)
	}
	return v, nil
}

// Admit implements quota.Store.
func (q *Quota) Admit(ctx context.Context, tenant, sid string, now, expires time.Time, n int64, lim quota.Limits) error {
	v, err := q.run(ctx, tenant, sid, "admit", now, expires, n, lim)
	if err != nil {
		return err
	}
	switch v {
	case int64(1):
		return quota.ErrSessions
	case int64(2):
		return quota.ErrBytes
	}
	return nil
}

// Add implements quota.Store.
func (q *Quota) Add(ctx context.Context, tenant, sid string, now, expires time.Time, n int64) error {
	_, err := q.run(ctx, tenant, sid, "add", now, expires, n, quota.Limits{})
	return err
}

// Usage implements quota.Store.
func (q *Quota) Usage(ctx context.Context, tenant string, now time.Time) (int, int64, error) {
	v, err := q.run(ctx, tenant, "", "usage", now, now, 0, quota.Limits{})
	if err != nil {
		return 0, 0, err
	}
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return 0, 0, fmt.Errorf("%w: unexpected reply %v", quota.ErrUnavailable, v)
	}
	sessions, _ := pair[0].(int64)
	bytes, _ := pair[1].(int64)
	return int(sessions), bytes, nil
}
