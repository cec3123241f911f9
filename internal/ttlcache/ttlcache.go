// Package ttlcache is the one in-process cache of the service: a bounded
// map whose entries expire, with single-flight loading. The user directory,
// the incident contexts and the caller-JWT check all remember answers
// through it.
//
// Bounded: when full, an insert evicts an expired entry among a random few,
// or else one of them, as Redis's approximated eviction does. That is
// constant work per insert, where a sweep of a cache full of fresh entries
// would scan every entry on every miss; losing an entry only ever costs a
// lookup.
//
// Single-flight: concurrent Do calls for one key that is not cached share
// one load. Errors are never cached: an outage must end for everyone the
// moment it ends.
package ttlcache

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// evictionSample is how many entries eviction looks at for an expired one
// before it settles for any. Go starts each map iteration at a random
// place, so this is a random sample.
const evictionSample = 8

// Cache maps keys to values, each until its expiry, holding at most a
// fixed number of entries. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	max int
	now func() time.Time

	mu       sync.Mutex
	entries  map[K]entry[V]
	inflight map[K]*call[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// call is one load in flight. v and err are written once, before done is
// closed, and read only after.
type call[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// New returns an empty cache of at most maxEntries entries, reading the
// time from now (nil: time.Now). Like make with a negative size, it panics
// when maxEntries is not positive: a bound is a constant or a validated
// setting, never a runtime input.
func New[K comparable, V any](maxEntries int, now func() time.Time) *Cache[K, V] {
	if maxEntries <= 0 {
		panic("ttlcache: maxEntries must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[K, V]{max: maxEntries, now: now, entries: map[K]entry[V]{}, inflight: map[K]*call[V]{}}
}

// Get returns the value cached for k, if it has not expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get(k, now)
}

func (c *Cache[K, V]) get(k K, now time.Time) (V, bool) {
	e, ok := c.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put caches v for k for ttl; a ttl that is not positive caches nothing.
func (c *Cache[K, V]) Put(k K, v V, ttl time.Duration) {
	if ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.put(k, v, now, now.Add(ttl))
}

// put stores v, evicting one entry first when the cache is full. Its
// caller holds mu.
func (c *Cache[K, V]) put(k K, v V, now, expires time.Time) {
	if _, replacing := c.entries[k]; !replacing && len(c.entries) >= c.max {
		c.evictOne(now)
	}
	c.entries[k] = entry[V]{v: v, expires: expires}
}

func (c *Cache[K, V]) evictOne(now time.Time) {
	var victim K
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

// Delete forgets k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}

// Len returns the number of entries held, expired ones included until
// they are noticed.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Loader loads the value of a key that is not cached, and says for how
// long to cache it (not positive: not at all).
type Loader[V any] func(ctx context.Context) (v V, ttl time.Duration, err error)

// Do returns the value cached for k, or loads it with load and caches it.
// Concurrent calls for the same k share one load. The load runs detached
// from the cancellation of ctx (its values, such as trace ids, are kept),
// so that one caller giving up does not fail the others that joined it;
// a caller whose ctx ends while it waits gets ctx's error at once, and the
// load carries on for the others and the cache. A load's error is
// returned to every caller sharing it, and never cached.
func (c *Cache[K, V]) Do(ctx context.Context, k K, load Loader[V]) (V, error) {
	now := c.now()
	c.mu.Lock()
	if v, ok := c.get(k, now); ok {
		c.mu.Unlock()
		return v, nil
	}
	if err := ctx.Err(); err != nil {
		// A caller already gone gets no answer and starts no load.
		c.mu.Unlock()
		var zero V
		return zero, err
	}
	cl := c.inflight[k]
	if cl == nil {
		cl = &call[V]{done: make(chan struct{})}
		c.inflight[k] = cl
		go c.load(context.WithoutCancel(ctx), k, cl, load)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.v, cl.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

func (c *Cache[K, V]) load(ctx context.Context, k K, cl *call[V], load Loader[V]) {
	var (
		v   V
		ttl time.Duration
		err error
	)
	defer func() {
		// A panicking loader must not leave its waiters blocked forever.
		if p := recover(); p != nil {
			err = fmt.Errorf("ttlcache: load panicked: %v", p)
		}
		now := c.now()
		c.mu.Lock()
		delete(c.inflight, k)
		if err == nil && ttl > 0 {
			c.put(k, v, now, now.Add(ttl))
		}
		c.mu.Unlock()
		cl.v, cl.err = v, err
		close(cl.done)
	}()
	v, ttl, err = load(ctx)
}
