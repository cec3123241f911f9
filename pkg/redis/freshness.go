package redis

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// maxPending bounds the versions held ahead of a gap before the mirror
// gives up waiting for the missing message and re-syncs.
const maxPending = 10_000

// noteVersion records that the entry of version v is applied.
func (r *Revocations) noteVersion(v int64) {
	r.vmu.Lock()
	defer r.vmu.Unlock()
	if v <= r.applied {
		return
	}
	r.pending[v] = struct{}{}
	r.advance()
	if len(r.pending) > maxPending {
		clear(r.pending)
		r.requestResync()
	}
}

// advance moves applied over the contiguous pending versions. vmu is held.
func (r *Revocations) advance() {
	for v := range r.pending {
		if v <= r.applied {
			delete(r.pending, v)
		}
	}
	for {
		if _, ok := r.pending[r.applied+1]; !ok {
			return
		}
		delete(r.pending, r.applied+1)
		r.applied++
	}
}

// markFresh records that the mirror held every revocation made before at.
func (r *Revocations) markFresh(at time.Time) {
	r.freshMu.Lock()
	defer r.freshMu.Unlock()
	if r.closed || at.Before(r.freshAt) {
		return
	}
	r.freshAt = at
	if left := r.cfg.StalenessBudget - time.Since(at); left > 0 {
		r.isStale.Store(false)
		r.staleTimer.Reset(left)
	}
}

// checkStale runs when the budget may have run out since the last fresh
// mark.
func (r *Revocations) checkStale() {
	r.freshMu.Lock()
	defer r.freshMu.Unlock()
	if r.closed {
		return
	}
	if left := r.cfg.StalenessBudget - time.Since(r.freshAt); left > 0 {
		r.staleTimer.Reset(left)
		return
	}
	if !r.isStale.Swap(true) {
		r.log.Error("revocation mirror is stale: token validation fails closed until Redis answers again",
			zap.Duration("budget", r.cfg.StalenessBudget))
	}
}

// failed logs the first failure of a run of them.
func (r *Revocations) failed(what string, err error) {
	if !r.failing.Swap(true) {
		r.log.Warn("cannot "+what, zap.Error(err))
	}
}

// recovered logs the end of a run of failures.
func (r *Revocations) recovered() {
	if r.failing.Swap(false) {
		r.log.Info("revocation mirror in sync with Redis again")
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
