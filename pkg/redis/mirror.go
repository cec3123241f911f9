package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/revoke"
)

// subscribe subscribes to the events channel and waits for Redis to
// confirm, so that every entry published from then on reaches the mirror.
func (r *Revocations) subscribe(ctx context.Context) (*goredis.PubSub, error) {
	ps := r.client.Subscribe(ctx, r.keys.Channel)
	for {
		msg, err := ps.ReceiveTimeout(ctx, max(r.cfg.StalenessBudget, 5*time.Second))
		if err != nil {
			_ = ps.Close()
			return nil, fmt.Errorf("redis: subscribe to %s: %w: %w", r.keys.Channel, revoke.ErrUnavailable, err)
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == "subscribe" {
			return ps, nil
		}
	}
}

// listen applies published entries until ctx is done. go-redis re-dials a
// broken subscription on the next receive; each new confirmation means
// messages may have been missed, so it asks for a re-sync. A subscription
// quiet for long is pinged, and replaced when the ping goes unanswered.
func (r *Revocations) listen(ctx context.Context) {
	quiet := max(2*r.cfg.PollInterval, time.Second)
	pinged, broken := false, false
	for ctx.Err() == nil {
		r.psMu.Lock()
		ps := r.ps
		r.psMu.Unlock()
		msg, err := ps.ReceiveTimeout(ctx, quiet)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && !pinged:
			pinged = true
			if err := ps.Ping(ctx); err != nil {
				r.failed("ping the subscription", err)
			}
		case err != nil && errors.As(err, &ne) && ne.Timeout():
			r.log.Warn("revocation subscription silent after a ping; replacing it")
			r.psMu.Lock()
			if ctx.Err() == nil { // Close may have closed r.ps already
				_ = r.ps.Close()
				r.ps = r.client.Subscribe(ctx, r.keys.Channel)
			}
			r.psMu.Unlock()
			pinged = false
		case err != nil:
			r.failed("receive revocations", err)
			if broken { // go-redis re-dials at once; back off only if that failed too
				sleep(ctx, min(r.cfg.PollInterval, 250*time.Millisecond))
			}
			broken = true
		default:
			pinged, broken = false, false
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Kind == "subscribe" {
					r.requestResync() // re-subscribed: messages may be lost
					if f := r.cfg.Observer.Resubscribe; f != nil {
						f("revocations")
					}
				}
			case *goredis.Message:
				r.onMessage(m.Payload)
			}
		}
	}
}

// onMessage applies one published entry.
func (r *Revocations) onMessage(payload string) {
	var m struct {
		V       int64  `json:"v"`
		Field   string `json:"field"`
		Before  int64  `json:"before"`
		Expires int64  `json:"expires"`
	}
	err := json.Unmarshal([]byte(payload), &m)
	var e revoke.Entry
	if err == nil {
		e, err = parseEntry(m.Field, m.Before, m.Expires)
	}
	if err != nil {
		r.log.Error("malformed revocation event; re-syncing", zap.Error(err))
		r.requestResync()
		return
	}
	if r.apply(e) && e.Kind == revoke.KindAll {
		r.log.Warn("every token issued at or before a time is revoked (Redis was found empty)", zap.Time("revokedBefore", e.Before))
	}
	r.noteVersion(m.V)
}

// pollLoop polls, and re-syncs when asked, when a poll finds a reason, and
// every ResyncInterval.
func (r *Revocations) pollLoop(ctx context.Context) {
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	lastFull := time.Now()
	full, lost := false, false // a re-sync is due; data was lost
	reason := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.resyncReq:
			full, reason = true, "gap"
		case <-tick.C:
			if !full && time.Since(lastFull) < r.cfg.ResyncInterval {
				need, loss, err := r.poll(ctx)
				if err != nil {
					r.failed("poll the revocation version", err)
					continue
				}
				full, lost = need, lost || loss
				reason = "gap"
			} else if !full {
				full, reason = true, "periodic"
			}
		}
		if full {
			if lost {
				reason = "loss"
			}
			if err := r.resync(ctx, lost, reason); err != nil {
				r.failed("re-sync revocations", err)
				continue // full stays set: the next tick retries
			}
			full, lost, lastFull = false, false, time.Now()
		}
		r.recovered()
	}
}

// poll reads the version and the marker in one round trip. The mirror is
// fresh when the marker is there and every version the previous poll saw is
// applied: a message in flight gets one poll interval to arrive.
func (r *Revocations) poll(ctx context.Context) (resync, lost bool, err error) {
	sent := time.Now()
	var version *goredis.StringCmd
	var marker *goredis.BoolCmd
	_, err = r.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		version = p.Get(ctx, r.keys.Version)
		marker = p.HExists(ctx, r.keys.Entries, MarkerField)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return false, false, err
	}
	v, err := version.Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return false, false, err
	}
	if err := marker.Err(); err != nil {
		return false, false, err
	}
	if !marker.Val() {
		return true, true, nil
	}
	r.vmu.Lock()
	applied, prev := r.applied, r.polled
	r.polled = v
	r.vmu.Unlock()
	switch {
	case v < applied:
		return true, true, nil // the version went backwards: writes were lost
	case applied < prev:
		return true, false, nil // a message published a poll ago never came
	}
	r.markFresh(sent)
	return false, false, nil
}
