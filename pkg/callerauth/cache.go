package callerauth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// A customer's backend reuses its caller JWT for many mints, and checking
// it (an asymmetric signature and jwx's parse) is most of a mint's cost.
// The Authenticator therefore remembers, for a short while, the caller of
// each token that verified. A hit costs one SHA-256 of the token.
//
// Bounds: an entry never outlives the token's exp, nor CacheTTL; so a key
// the identity provider withdraws stops being honoured within CacheTTL.
// Only successes are kept: a failure is always re-checked, so a token that
// becomes valid (nbf) or keys that arrive are seen at once.
const (
	// DefaultCacheTTL bounds how long a verified token is remembered.
	DefaultCacheTTL = time.Minute
	// maxCacheEntries bounds the memory a flood of distinct valid tokens
	// can take (about 200 bytes each).
	maxCacheEntries = 10000
)

type cacheEntry struct {
	caller widget.Caller
	until  time.Time
}

// verifiedCache maps the SHA-256 of a token to its caller.
type verifiedCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[[sha256.Size]byte]cacheEntry
}

func newVerifiedCache(ttl time.Duration) *verifiedCache {
	return &verifiedCache{ttl: ttl, m: make(map[[sha256.Size]byte]cacheEntry)}
}

func (c *verifiedCache) get(key [sha256.Size]byte, now time.Time) (widget.Caller, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	if ok && !now.Before(e.until) {
		delete(c.m, key)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return widget.Caller{}, false
	}
	// A copy of the roles: the caller is the requester's to use as it likes.
	e.caller.Roles = append([]string(nil), e.caller.Roles...)
	return e.caller, true
}

func (c *verifiedCache) put(key [sha256.Size]byte, caller widget.Caller, exp, now time.Time) {
	until := now.Add(c.ttl)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCacheEntries {
		// Drop the expired entries among a few, else one arbitrary entry:
		// constant work per insert, and the map never grows past its bound.
		n := 0
		for k, e := range c.m {
			n++
			if !now.Before(e.until) || n == 8 {
				delete(c.m, k)
			}
			if n == 8 {
				break
			}
		}
	}
	caller.Roles = append([]string(nil), caller.Roles...) // the requester keeps its own slice
	c.m[key] = cacheEntry{caller: caller, until: until}
}
