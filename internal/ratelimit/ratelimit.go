// Package ratelimit limits how often something may happen per key: the
// widget's messages per session. The rule is a fixed window: at most N
// events per window, the window starting with the first event of a key and
// lasting Window; the event that would be the N+1st is refused, with the
// time left until the window ends.
//
// A fixed window lets up to 2N events through around a window's edge; for a
// message limit meant to stop a runaway client, not to meter usage, that is
// fine, and it costs one counter per key (one INCR in Redis). Memory is the
// limiter of the embedded default; the Redis adapter shares the counts of
// every replica. Both pass ratelimittest.Run.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is wrapped by the error of a limiter that cannot count
// (Redis down). Whether to let the event through then is the caller's
// decision.
var ErrUnavailable = errors.New("ratelimit: limiter unavailable")

// Limiter decides whether one more event of a key may happen now.
type Limiter interface {
	// Allow records an event of key and reports whether it is within the
	// limit. When it is not, retryAfter is the time until the key's window
	// ends, in (0, window].
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// CheckRule checks a limit of n events per window: n at least 1, window at
// least a millisecond (the resolution of Redis's expiries).
func CheckRule(n int, window time.Duration) error {
	if n < 1 || window < time.Millisecond {
		return fmt.Errorf("ratelimit: need at least 1 event per window of at least 1ms, got %d per %v", n, window)
	}
	return nil
}
