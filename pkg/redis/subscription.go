package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Subscription holds one pub/sub subscription to a channel for as long as
// it runs, whatever happens to the connection or the topology: the one
// helper the revocation mirror shares with the service's event log and
// stop requests.
//
// go-redis re-dials a broken subscription on the next receive, on the
// current topology (the promoted master, the slot's new node). A
// subscription quiet for `quiet` is pinged, and replaced when the ping goes
// unanswered. Failing re-dials back off from 10 ms to a second. Every
// re-established subscription (Redis confirms it again) calls resubscribed:
// messages may have been missed, and the owner re-reads what it must.
type Subscription struct {
	client goredis.UniversalClient
	cfg    SubscriptionConfig

	mu     sync.Mutex // guards ps against Close
	ps     *goredis.PubSub
	cancel context.CancelFunc
	done   chan struct{}
}

// SubscriptionConfig says what to subscribe to, and whom to tell what.
type SubscriptionConfig struct {
	Channel string
	// Quiet is how long the subscription may go without a message before
	// it is pinged, and replaced when the ping goes unanswered.
	Quiet time.Duration
	// Logger receives warnings (a broken subscription, a ping unanswered).
	// Default: none.
	Logger    *slog.Logger
	OnMessage func(payload string)
	// Broken, optional, is told that the subscription is down until
	// Resubscribed is called.
	Broken       func()
	Resubscribed func()
	// Unavailable is wrapped by Subscribe's error when Redis does not
	// confirm the subscription.
	Unavailable error
}

// Subscribe subscribes to cfg.Channel and waits for Redis to confirm, so
// that everything published from then on is delivered, then relays the
// messages in a goroutine of its own until Close. The error wraps
// cfg.Unavailable when Redis does not confirm within a few seconds.
func Subscribe(ctx context.Context, client goredis.UniversalClient, cfg SubscriptionConfig) (*Subscription, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Broken == nil {
		cfg.Broken = func() {}
	}
	ps := client.Subscribe(ctx, cfg.Channel)
	for {
		msg, err := ps.ReceiveTimeout(ctx, max(cfg.Quiet, 5*time.Second))
		if err != nil {
			_ = ps.Close()
			return nil, fmt.Errorf("redis: subscribe to %s: %w: %w", cfg.Channel, cfg.Unavailable, err)
		}
		if s, ok := msg.(*goredis.Subscription); ok && s.Kind == "subscribe" {
			break
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Subscription{client: client, cfg: cfg, ps: ps, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(s.done); s.run(runCtx) }()
	return s, nil
}

// Close ends the subscription and waits for its goroutine.
func (s *Subscription) Close() {
	s.cancel()
	s.mu.Lock()
	_ = s.ps.Close() // unblocks the receive
	s.mu.Unlock()
	<-s.done
}

func (s *Subscription) run(ctx context.Context) {
	pinged, failures := false, 0
	for ctx.Err() == nil {
		s.mu.Lock()
		ps := s.ps
		s.mu.Unlock()
		msg, err := ps.ReceiveTimeout(ctx, s.cfg.Quiet)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case err != nil && errors.As(err, &ne) && ne.Timeout() && !pinged:
			pinged = true
			if err := ps.Ping(ctx); err != nil {
				s.cfg.Logger.Warn("cannot ping the subscription", slog.String("channel", s.cfg.Channel), slog.Any("error", err))
			}
		case err != nil && errors.As(err, &ne) && ne.Timeout():
			s.cfg.Logger.Warn("subscription silent after a ping; replacing it", slog.String("channel", s.cfg.Channel))
			s.mu.Lock()
			if ctx.Err() == nil { // Close may have closed s.ps already
				_ = s.ps.Close()
				s.ps = s.client.Subscribe(ctx, s.cfg.Channel)
			}
			s.mu.Unlock()
			pinged = false
		case err != nil:
			failures++
			if failures == 1 {
				s.cfg.Logger.Warn("subscription broken; re-subscribing", slog.String("channel", s.cfg.Channel), slog.Any("error", err))
				s.cfg.Broken()
			} else {
				// The re-dial failed too (Redis down, or a failover under
				// way): back off, from 10 ms up to a quarter second, so a
				// blip costs little, an outage does not spin, and the
				// subscription is back soon after Redis is.
				sleep(ctx, min(10*time.Millisecond<<min(failures-2, 5), 250*time.Millisecond))
			}
		default:
			if failures > 0 {
				s.cfg.Logger.Info("subscription back", slog.String("channel", s.cfg.Channel))
			}
			pinged, failures = false, 0
			switch m := msg.(type) {
			case *goredis.Subscription:
				if m.Kind == "subscribe" { // re-subscribed: messages may be lost
					s.cfg.Resubscribed()
				}
			case *goredis.Message:
				s.cfg.OnMessage(m.Payload)
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
