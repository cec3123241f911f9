package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/redis"
)

// redisHealthInterval is how often a replica measures its clock's offset
// from Redis and counts Redis's replicas.
const redisHealthInterval = 10 * time.Second

// maxClockOffset is the offset past which a replica warns (and the alert
// fires): revocation cutoffs are written with one replica's clock and
// compared with tokens minted on another's.
const maxClockOffset = 250 * time.Millisecond

// redisHealth watches what Redis cannot tell a request: this replica's
// clock against Redis's, and whether Redis has the replicas a write waits
// for (WIDGET_REDIS_MIN_REPLICAS). Both go to metrics; a shortfall of
// replicas is said at start, at error level, and on /readyz's body, which
// stays ready: validation and minting still work, only acknowledged writes
// (revocations, tickets, messages) answer 503.
type redisHealth struct {
	client   goredis.UniversalClient
	required int
	logger   *zap.Logger
	metrics  *redisMetrics

	mu       sync.Mutex
	shortage string // what /readyz says, "" when Redis has its replicas
	skewed   bool   // the last offset was past maxClockOffset (said once)
}

// check measures both once.
func (h *redisHealth) check(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if off, unc, err := redis.ClockOffset(ctx, h.client, nil); err == nil {
		h.metrics.clockOffset.Set(off.Seconds())
		h.mu.Lock()
		skewed := off.Abs()-unc > maxClockOffset
		if skewed && !h.skewed {
			h.logger.Error("this replica's clock is off Redis's: revocation cutoffs and token times disagree across replicas; run NTP",
				zap.Duration("offset", off), zap.Duration("uncertainty", unc))
		}
		h.skewed = skewed
		h.mu.Unlock()
	}
	if h.required == 0 {
		return
	}
	n, err := redis.Replicas(ctx, h.client)
	if err != nil {
		return // unknown: the writes' own WAIT still decides
	}
	h.metrics.replicas.Set(float64(n))
	shortage := ""
	if n < h.required {
		shortage = fmt.Sprintf("redis has %d connected replicas and WIDGET_REDIS_MIN_REPLICAS is %d: every revocation, stream ticket and message answers 503 until it has them", n, h.required)
	}
	h.mu.Lock()
	if shortage != "" && h.shortage == "" {
		h.logger.Error("REDIS HAS TOO FEW REPLICAS: " + shortage)
	} else if shortage == "" && h.shortage != "" {
		h.logger.Info("redis has its replicas again", zap.Int("replicas", n))
	}
	h.shortage = shortage
	h.mu.Unlock()
}

// run checks every redisHealthInterval until ctx ends.
func (h *redisHealth) run(ctx context.Context) {
	t := time.NewTicker(redisHealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.check(ctx)
		}
	}
}

// warnings returns what /readyz says beside "ready".
func (h *redisHealth) warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shortage == "" {
		return nil
	}
	return []string{h.shortage}
}
