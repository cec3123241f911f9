package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// subscription holds one pub/sub subscription to a channel for as long as
// it runs, whatever happens to the connection or the topology: the one
// helper the revocation mirror and the event log share.
//
// go-redis re-dials a broken subscription on the next receive, on the
// current topology (the promoted master, the slot's new node). A
// subscription quiet for `quiet` is pinged, and replaced when the ping goes
// unanswered. Failing re-dials back off from 10 ms to a second. Every
// re-established subscription (Redis confirms it again) calls resubscribed:
// messages may have been missed, and the owner re-reads what it must.
type subscription struct {
	client goredis.UniversalClient
	subscriptionConfig

	mu     sync.Mutex // guards ps against Close
	ps     *goredis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
}

// subscriptionConfig says what to subscribe to, and whom to tell what.
type subscriptionConfig struct {
	channel      string
	quiet        time.Duration // past it without a message, the subscription is pinged
	log          *zap.Logger
	onMessage    func(payload string)
	broken       func() // optional: the subscription is down until resubscribed
	resubscribed func()
	unavailable  error // wrapped by subscribeTo's error when Redis does not confirm
}

// subscribeTo subscribes to cfg.channel and waits for Redis to confirm, so
// that everything published from then on is delivered, then relays the
// messages in a goroutine of its own until Close. The error wraps
// cfg.unavailable when Redis does not confirm within a few seconds.
func subscribeTo(ctx context.Context, client goredis.UniversalClient, cfg subscriptionConfig) (*subscription, error) {
	ps := client.Subscribe(ctx, cfg.channel)
	for {
		msg, err := ps.ReceiveTimeout(ctx, max(cfg.quiet, 5*time.Second))
		if err != nil {
			_ = ps.Close()
			return nil, fmt.Errorf("redis: subscribe to %s: %w: %w", cfg.channel, cfg.unavailable, err)
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == "subscribe" {
			break
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &subscription{client: client, subscriptionConfig: cfg, ps: ps, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(s.done); s.run(runCtx) }()
	return s, nil
}

// Close ends the subscription and waits for its goroutine.
func (s *subscription) Close() {
	s.cancel()
	s.mu.Lock()
	_ = s.ps.Close() // unblocks the receive
	s.mu.Unlock()
	<-s.done
}

func (s *subscription) run(ctx context.Context) {
	pinged, failures := false, 0
	for ctx.Err() == nil {
		s.mu.Lock()
		ps := s.ps
		s.mu.Unlock()
		msg, err := ps.ReceiveTimeout(ctx, s.quiet)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && !pinged:
			pinged = true
			if err := ps.Ping(ctx); err != nil {
				s.log.Warn("cannot ping the subscription", zap.String("channel", s.channel), zap.Error(err))
			}
		case err != nil && errors.As(err, &ne) && ne.Timeout():
			s.log.Warn("subscription silent after a ping; replacing it", zap.String("channel", s.channel))
			s.mu.Lock()
			if ctx.Err() == nil { // Close may have closed s.ps already
				_ = s.ps.Close()
				s.ps = s.client.Subscribe(ctx, s.channel)
			}
			s.mu.Unlock()
			pinged = false
		case err != nil:
			failures++
			if failures == 1 {
				s.log.Warn("subscription broken; re-subscribing", zap.String("channel", s.channel), zap.Error(err))
				if s.broken != nil {
					s.broken()
				}
			} else {
				// The re-dial failed too (Redis down, or a failover under
				// way): back off, from 10 ms up to a quarter second, so a
				// blip costs little, an outage does not spin, and the
				// subscription is back soon after Redis is.
				sleep(ctx, min(10*time.Millisecond<<min(failures-2, 5), 250*time.Millisecond))
			}
		default:
			if failures > 0 {
				s.log.Info("subscription back", zap.String("channel", s.channel))
			}
			pinged, failures = false, 0
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Kind == "subscribe" { // re-subscribed: messages may be lost
					s.resubscribed()
				}
			case *goredis.Message:
				s.onMessage(m.Payload)
			}
		}
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
