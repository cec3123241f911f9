package incident

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultCacheEntries bounds a MemoryCache.
const DefaultCacheEntries = 10000

// evictionSample is how many entries eviction looks at for an expired one
// before it settles for any. Go starts each map iteration at a random place,
// so this is a random sample, as in Redis's approximated eviction: constant
// work per insert.
const evictionSample = 8

// MemoryCache is the Cache of the embedded default: at most
// DefaultCacheEntries incidents, each until its TTL. When full, a Put
// evicts an expired entry if it finds one among a few, or else any of them:
// losing an entry only costs a lookup at the source. It is safe for
// concurrent use.
type MemoryCache struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct{ tenant, id string }

type cacheEntry struct {
	inc     Incident
	expires time.Time
}

// NewMemoryCache returns an empty cache reading the time from now (nil
// means time.Now).
func NewMemoryCache(now func() time.Time) *MemoryCache {
	if now == nil {
		now = time.Now
	}
	return &MemoryCache{now: now, max: DefaultCacheEntries, entries: map[cacheKey]cacheEntry{}}
}

// Get returns a copy of the incident remembered for tenant and id, if it
// has not expired. It never fails.
func (c *MemoryCache) Get(_ context.Context, tenant, id string) (Incident, bool, error) {
	k := cacheKey{tenant, id}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return Incident{}, false, nil
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, k)
		return Incident{}, false, nil
	}
	return e.inc.Clone(), true, nil
}

// Put remembers a copy of inc for tenant and id for ttl.
func (c *MemoryCache) Put(_ context.Context, tenant, id string, inc Incident, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("incident: cache TTL must be positive")
	}
	k := cacheKey{tenant, id}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, replacing := c.entries[k]; !replacing && len(c.entries) >= c.max {
		c.evictOne(now)
	}
	c.entries[k] = cacheEntry{inc: inc.Clone(), expires: now.Add(ttl)}
	return nil
}

// Len returns the number of entries held, expired ones included until they
// are noticed.
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// evictOne drops an expired entry among a random few, or else the first of
// them. Its caller holds mu.
func (c *MemoryCache) evictOne(now time.Time) {
	var victim cacheKey
	seen := 0
	for k, e := range c.entries {
		if seen == 0 {
			victim = k
		}
		if !now.Before(e.expires) {
			victim = k
			break
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	delete(c.entries, victim)
}
