package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/internal/ticket/tickettest"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// TestTicketsContract runs the ticket contract on one server, each case in
// a namespace of its own. Redis keeps the TTLs itself: the contract's clock
// is not read.
func TestTicketsContract(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	tickettest.Run(t, func(_ *testing.T, _ func() time.Time, maxPerSession int) ticket.Store {
		return redisstore.NewTickets(c, namespace(), maxPerSession, redis.Replication{})
	})
}

// TestTicketsLayout pins the key and value: the key is the ticket's hash,
// and nothing in Redis holds the ticket itself.
func TestTicketsLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ns := namespace()
	s := redisstore.NewTickets(c, ns, 0, redis.Replication{})
	claims := tickettest.Claims("wsess_1")
	tk, err := s.Issue(ctx, &claims, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	key := ns + ":tk:" + ticket.Hash("wsess_1", tk)
	if s.Key("wsess_1", tk) != key {
		t.Fatalf("Key = %q, want %q", s.Key("wsess_1", tk), key)
	}
	keys := c.Keys(ctx, ns+":*").Val()
	slices.Sort(keys)
	own := ns + ":tks:wsess_1"
	if s.SessionKey("wsess_1") != own || !slices.Equal(keys, []string{key, own}) {
		t.Fatalf("keys %v, want [%s %s]", keys, key, own)
	}
	if got := c.ZRangeWithScores(ctx, own, 0, -1).Val(); len(got) != 1 || got[0].Member != ticket.Hash("wsess_1", tk) ||
		time.Until(time.UnixMilli(int64(got[0].Score))) <= 25*time.Second {
		t.Errorf("the session's outstanding tickets: %v; want the ticket's hash, scored by its expiry", got)
	}
	if ttl := c.PTTL(ctx, own).Val(); ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Errorf("the session's set expires in %v, want with its ticket", ttl)
	}
	if ttl := c.TTL(ctx, key).Val(); ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Errorf("TTL %v, want about 30s", ttl)
	}
	raw := c.Get(ctx, key).Val()
	var got token.Claims
	if err := json.Unmarshal([]byte(raw), &got); err != nil || got != claims {
		t.Errorf("value %s decodes to %+v, %v; want the claims", raw, got, err)
	}
	secret := strings.TrimPrefix(tk, ticket.Prefix)
	if strings.Contains(raw, secret) || strings.Contains(key, secret) {
		t.Error("Redis holds the ticket itself")
	}
	if _, err := s.Redeem(ctx, "wsess_1", tk); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, key).Val(); n != 0 {
		t.Error("the key outlived its redeem")
	}
	if redisstore.NewTickets(c, "", 0, redis.Replication{}).Key("wsess_1", tk) != redis.DefaultNamespace+":tk:"+ticket.Hash("wsess_1", tk) {
		t.Error("the empty namespace is not the default")
	}
}

// TestTicketsFailures: with Redis down, Issue and Redeem fail with
// ticket.ErrUnavailable, never ErrInvalid: the widget must retry, not
// start over.
func TestTicketsFailures(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	s := redisstore.NewTickets(c, namespace(), 0, redis.Replication{})
	claims := tickettest.Claims("wsess_1")
	tk, err := s.Issue(context.Background(), &claims, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.Redeem(ctx, "wsess_1", tk); !errors.Is(err, ticket.ErrUnavailable) || errors.Is(err, ticket.ErrInvalid) {
		t.Errorf("Redeem(Redis down) = %v, want ErrUnavailable", err)
	}
	if _, err := s.Issue(ctx, &claims, time.Minute); !errors.Is(err, ticket.ErrUnavailable) {
		t.Errorf("Issue(Redis down) = %v, want ErrUnavailable", err)
	}
}
