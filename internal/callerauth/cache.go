package callerauth

import (
	"crypto/sha256"
	"time"

	"github.com/causeflow/widget-sessions/internal/ttlcache"
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

// verifiedCache maps the SHA-256 of a token to its caller.
type verifiedCache struct {
	ttl     time.Duration
	callers *ttlcache.Cache[[sha256.Size]byte, widget.Caller]
}

func newVerifiedCache(ttl time.Duration, now func() time.Time) *verifiedCache {
	return &verifiedCache{ttl: ttl, callers: ttlcache.New[[sha256.Size]byte, widget.Caller](maxCacheEntries, now)}
}

func (c *verifiedCache) get(key [sha256.Size]byte) (widget.Caller, bool) {
	caller, ok := c.callers.Get(key)
	if !ok {
		return widget.Caller{}, false
	}
	// A copy of the roles: the caller is the requester's to use as it likes.
	caller.Roles = append([]string(nil), caller.Roles...)
	return caller, true
}

// put remembers caller for CacheTTL, or until the token's exp if sooner.
func (c *verifiedCache) put(key [sha256.Size]byte, caller widget.Caller, exp, now time.Time) {
	ttl := min(c.ttl, exp.Sub(now))
	caller.Roles = append([]string(nil), caller.Roles...) // the requester keeps its own slice
	c.callers.Put(key, caller, ttl)                       // not positive: not remembered
}
