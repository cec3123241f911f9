package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// Tickets is the stream-ticket store on Redis: a ticket issued on one
// replica can be redeemed on any other. Each ticket is one string key,
//
//	<namespace>:tk:<ticket.Hash(sessionId, ticket)>
//
// holding the claims as JSON and expiring with the ticket, and each session
// with outstanding tickets has a sorted set of their hashes scored by
// expiry (Unix milliseconds), which bounds how many a session may hold:
//
//	<namespace>:tks:<sessionId>
//
// The key holds the ticket's SHA-256, never the ticket, so a dump of Redis
// reveals no ticket that could be redeemed. Redeem is GETDEL: reading and
// deleting are one atomic step, so of concurrent redeems exactly one gets
// the claims. Every command touches one key, so the store works on Redis
// Cluster. Tickets is safe for concurrent use.
type Tickets struct {
	client        goredis.UniversalClient
	ns            string
	maxPerSession int
	repl          redis.Replication
}

// NewTickets returns the store over client, its keys under namespace
// (DefaultNamespace when ""), holding at most maxPerSession outstanding
// tickets per session (0 means ticket.DefaultMaxPerSession). A ticket is
// issued once repl is satisfied: a ticket handed out must be redeemable on
// the master a failover promotes.
func NewTickets(client goredis.UniversalClient, namespace string, maxPerSession int, repl redis.Replication) *Tickets {
	if namespace == "" {
		namespace = redis.DefaultNamespace
	}
	if maxPerSession <= 0 {
		maxPerSession = ticket.DefaultMaxPerSession
	}
	return &Tickets{client: client, ns: namespace, maxPerSession: maxPerSession, repl: repl}
}

// Key returns the key of ticket tk of session sid.
func (s *Tickets) Key(sid, tk string) string { return s.ns + ":tk:" + ticket.Hash(sid, tk) }

// SessionKey returns the key of the set of sid's outstanding tickets.
func (s *Tickets) SessionKey(sid string) string { return s.ns + ":tks:" + keyPart(sid) }

// claimScript takes a place among a session's outstanding tickets:
// it drops the expired ones (score before ARGV[1]), refuses (0) when
// ARGV[3] remain, else adds ARGV[4] expiring at ARGV[2] and returns 1. The
// set expires with its latest ticket.
//
//	KEYS: the session's set
//	ARGV: now ms, expires ms, max, hash
var claimScript = goredis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) - tonumber(ARGV[1]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1
`)

// Issue stores a new ticket carrying c for ttl and returns it once Redis
// has acknowledged it. A session holding its maximum of outstanding
// tickets gets an error wrapping ticket.ErrSessionLimit; a Redis failure
// is an error wrapping ticket.ErrUnavailable.
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
	// The server's clock would be better, but the set only needs to agree
	// with itself: every replica's tickets are scored on the same scale to
	// within the clocks' skew, a fraction of a ticket's life.
	now := time.Now()
	placed, err := claimScript.Run(ctx, s.client, []string{s.SessionKey(c.SessionID)},
		now.UnixMilli(), now.Add(ttl).UnixMilli(), s.maxPerSession, ticket.Hash(c.SessionID, tk)).Int64()
	switch {
	case err != nil:
		return "", fmt.Errorf("redis: ticket not stored: %w: %w", ticket.ErrUnavailable, err)
	case placed == 0:
		return "", fmt.Errorf("redis: %d tickets outstanding: %w", s.maxPerSession, ticket.ErrSessionLimit)
	}
	// NX: two tickets cannot collide in 256 random bits, but if they ever
	// did the second must not take over the first.
	key := s.Key(c.SessionID, tk)
	var set *goredis.BoolCmd
	err = s.repl.Exec(ctx, s.client, key, "ticket", func(p goredis.Pipeliner, _ bool) {
		set = p.SetNX(ctx, key, b, ttl)
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("redis: ticket not stored: %w: %w", ticket.ErrUnavailable, err)
	case !set.Val():
		return "", fmt.Errorf("redis: ticket collision: %w", ticket.ErrUnavailable)
	}
	return tk, nil
}

// Redeem returns the claims of tk, issued for sid, and deletes it,
// atomically (GETDEL). A malformed ticket is refused without a round trip;
// an unknown, used or expired one, or one of another session, is
// ticket.ErrInvalid; a Redis failure is an error wrapping
// ticket.ErrUnavailable.
func (s *Tickets) Redeem(ctx context.Context, sid, tk string) (*token.Claims, error) {
	if !ticket.Valid(tk) {
		return nil, ticket.ErrInvalid
	}
	b, err := s.client.GetDel(ctx, s.Key(sid, tk)).Bytes()
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
	// The ticket is spent: free its place. Should this fail, the place
	// frees itself when the ticket would have expired.
	_ = s.client.ZRem(ctx, s.SessionKey(sid), ticket.Hash(sid, tk)).Err()
	return &c, nil
}
