package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/pkg/redis"
)

// IncidentCache is the incident-context cache on Redis, shared by the
// minting service (which warms it) and every widget edge (which reads it).
// Each context is one string key holding the incident's JSON, with a TTL:
//
//	<namespace>:ctx:{<tenant>}:<id>
//
// tenant and id escaped with keyPart, so that no two (tenant, id) pairs
// share a key whatever ":", "|", "{" or "}" they hold. The tenant is the
// key's hash tag: in Redis Cluster a tenant's contexts share a slot.
// IncidentCache is safe for concurrent use.
type IncidentCache struct {
	client goredis.UniversalClient
	ns     string
}

// NewIncidentCache returns the cache over client, its keys under namespace
// (DefaultNamespace when "").
func NewIncidentCache(client goredis.UniversalClient, namespace string) *IncidentCache {
	if namespace == "" {
		namespace = redis.DefaultNamespace
	}
	return &IncidentCache{client: client, ns: namespace}
}

// Key returns the key of the context of incident id of tenant.
func (c *IncidentCache) Key(tenant, id string) string {
	return c.ns + ":ctx:{" + keyPart(tenant) + "}:" + keyPart(id)
}

// Get returns the incident cached for tenant and id and what remains of
// its TTL, read together in one round trip. A missing key is a miss; a
// Redis failure or a value that does not decode is an error wrapping
// incident.ErrUnavailable.
func (c *IncidentCache) Get(ctx context.Context, tenant, id string) (incident.Incident, time.Duration, bool, error) {
	k := c.Key(tenant, id)
	var (
		get  *goredis.StringCmd
		pttl *goredis.DurationCmd
	)
	_, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		get, pttl = p.Get(ctx, k), p.PTTL(ctx, k)
		return nil
	})
	if errors.Is(get.Err(), goredis.Nil) {
		return incident.Incident{}, 0, false, nil
	}
	if err != nil {
		return incident.Incident{}, 0, false, fmt.Errorf("redis: incident cache read: %w: %w", incident.ErrUnavailable, err)
	}
	var inc incident.Incident
	if err := json.Unmarshal([]byte(get.Val()), &inc); err != nil {
		return incident.Incident{}, 0, false, fmt.Errorf("redis: incident cache holds an undecodable value: %w: %w", incident.ErrUnavailable, err)
	}
	// PTTL answers -2 when the key expired between the two commands and -1
	// when it has no expiry (never written so by Put): neither is a life
	// to hold the context for, so the caller serves it and keeps nothing.
	return inc.Clone(), max(pttl.Val(), 0), true, nil
}

// Put caches inc for tenant and id for ttl (SET with an expiry; a TTL under
// a second or not whole seconds is set in milliseconds).
func (c *IncidentCache) Put(ctx context.Context, tenant, id string, inc incident.Incident, ttl time.Duration) error {
	if ttl <= 0 {
		// go-redis reads 0 as "no expiry": a context would never be
		// refreshed.
		return errors.New("redis: incident cache TTL must be positive")
	}
	b, err := json.Marshal(inc.Clone())
	if err != nil {
		return fmt.Errorf("redis: incident cache encode: %w", err)
	}
	if err := c.client.Set(ctx, c.Key(tenant, id), b, ttl).Err(); err != nil {
		return fmt.Errorf("redis: incident cache write: %w: %w", incident.ErrUnavailable, err)
	}
	return nil
}

// keyPart escapes s for use as one part of a key: every byte other than
// an ASCII letter, digit, "-", "_", "." or "~" becomes %XX (upper case), so
// the result never holds ":", "|", "{", "}" or "%" unescaped and two
// different strings never escape to the same segment.
func keyPart(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
