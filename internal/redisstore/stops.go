package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Stops carries requests to stop a reply to every replica (chat.Stops):
// one pub/sub channel,
//
//	<namespace>:stops   message "<sessionId> <messageId>"
//
// on which every replica listens through one subscription (Start); the
// replica running that reply stops it. A request is not stored: one lost
// while a subscription is down (a failover) leaves the reply to finish,
// as it would have a moment later anyway.
type Stops struct {
	client  goredis.UniversalClient
	channel string
	log     *zap.Logger

	mu  sync.RWMutex
	fn  func(sid, inReplyTo string)
	sub *redis.Subscription
}

// NewStops returns the carrier over client, its channel under namespace
// (DefaultNamespace when ""). It listens once Start has subscribed.
func NewStops(client goredis.UniversalClient, namespace string, logger *zap.Logger) *Stops {
	if namespace == "" {
		namespace = redis.DefaultNamespace
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Stops{client: client, channel: namespace + ":stops", log: logger.With(zap.String("component", "stops"))}
}

// Start subscribes to the channel; it returns an error when Redis does not
// confirm the subscription.
func (s *Stops) Start(ctx context.Context) error {
	sub, err := redis.Subscribe(ctx, s.client, redis.SubscriptionConfig{
		Channel: s.channel, Quiet: 5 * time.Second, Logger: Slog(s.log), OnMessage: s.onMessage,
		Resubscribed: func() {}, Unavailable: errors.New("redis: stop requests unavailable"),
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.sub = sub
	s.mu.Unlock()
	return nil
}

// Close ends the subscription.
func (s *Stops) Close() {
	s.mu.Lock()
	sub := s.sub
	s.sub = nil
	s.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
}

// RequestStop publishes the request to every replica.
func (s *Stops) RequestStop(ctx context.Context, sid, inReplyTo string) error {
	if err := s.client.Publish(ctx, s.channel, sid+" "+inReplyTo).Err(); err != nil {
		return fmt.Errorf("redis: publish a stop request: %w", err)
	}
	return nil
}

// Listen sets the function told of every request.
func (s *Stops) Listen(fn func(sid, inReplyTo string)) {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
}

func (s *Stops) onMessage(payload string) {
	sid, msg, ok := strings.Cut(payload, " ")
	if !ok {
		s.log.Warn("malformed stop request ignored")
		return
	}
	s.mu.RLock()
	fn := s.fn
	s.mu.RUnlock()
	if fn != nil {
		fn(sid, msg)
	}
}
