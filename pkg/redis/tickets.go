package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/ticket"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// Tickets is the stream-ticket store on Redis: a ticket issued on one
// replica can be redeemed on any other. Each ticket is one string key,
//
//	<namespace>:tk:<ticket.Hash(ticket)>
//
// holding the claims as JSON and expiring with the ticket. The key holds
// the ticket's SHA-256, never the ticket, so a dump of Redis reveals no
// ticket that could be redeemed. Redeem is GETDEL: reading and deleting are
// one atomic step, so of concurrent redeems exactly one gets the claims.
// Tickets is safe for concurrent use.
type Tickets struct {
	client goredis.UniversalClient
	ns     string
}

// NewTickets returns the store over client, its keys under namespace
// (DefaultNamespace when "").
func NewTickets(client goredis.UniversalClient, namespace string) *Tickets {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return &Tickets{client: client, ns: namespace}
}

// Key returns the key of ticket.
func (s *Tickets) Key(tk string) string { return s.ns + ":tk:" + ticket.Hash(tk) }

// Issue stores a new ticket carrying c for ttl and returns it once Redis
// has acknowledged it. A Redis failure is an error wrapping
// ticket.ErrUnavailable.
func (s *Tickets) Issue(ctx context.Context, c *token.Claims, ttl time.Duration) (string, error) {
	if c == nil {
		return "", errors.New("redis: no claims to issue a ticket for")
	}
	if ttl <= 0 {
		// go-redis reads 0 as "no expiry": a ticket would live forever.
		return "", errors.New("redis: ticket TTL must be positive")
	}
	tk, err := ticket.New()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("redis: ticket encode: %w", err)
	}
	// NX: two tickets cannot collide in 256 random bits, but if they ever
	// did the second must not take over the first.
	ok, err := s.client.SetNX(ctx, s.Key(tk), b, ttl).Result()
	switch {
	case err != nil:
		return "", fmt.Errorf("redis: ticket not stored: %w: %w", ticket.ErrUnavailable, err)
	case !ok:
		return "", fmt.Errorf("redis: ticket collision: %w", ticket.ErrUnavailable)
	}
	return tk, nil
}

// Redeem returns the claims of tk and deletes it, atomically (GETDEL). A
// malformed ticket is refused without a round trip; an unknown, used or
// expired one is ticket.ErrInvalid; a Redis failure is an error wrapping
// ticket.ErrUnavailable.
func (s *Tickets) Redeem(ctx context.Context, tk string) (*token.Claims, error) {
	if !ticket.Valid(tk) {
		return nil, ticket.ErrInvalid
	}
	b, err := s.client.GetDel(ctx, s.Key(tk)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, ticket.ErrInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("redis: ticket redeem: %w: %w", ticket.ErrUnavailable, err)
	}
	var c token.Claims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("redis: ticket holds an undecodable value: %w: %w", ticket.ErrUnavailable, err)
	}
	return &c, nil
}
