package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/internal/wait"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
)

const leeway = 30 * time.Second

// fast is a configuration whose intervals suit tests of the mirror.
func fast() redis.Config {
	return redis.Config{PollInterval: 50 * time.Millisecond, StalenessBudget: time.Second}
}

var namespaces atomic.Int64

// namespace returns a namespace no other test uses, so tests can share a
// server.
func namespace() string {
	return fmt.Sprintf("test%d", namespaces.Add(1))
}

func client(t testing.TB, srv *redistest.Server) goredis.UniversalClient {
	t.Helper()
	c, err := redis.NewClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// seedMarker makes the namespace look like an established deployment, so
// that starting a mirror on it does not revoke everything issued so far.
func seedMarker(t testing.TB, c goredis.UniversalClient, ns string) {
	t.Helper()
	if err := c.HSet(context.Background(), redis.LayoutOf(ns).Entries, redis.MarkerField, "seeded by the test").Err(); err != nil {
		t.Fatal(err)
	}
}

// logs returns a logger and what it records at warn level and above.
func logs() (*slog.Logger, *recorded) {
	r := &recorded{}
	return slog.New(r), r
}

// recorded is a slog.Handler that keeps the messages of the records it
// is given, at warn level and above.
type recorded struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorded) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (r *recorded) WithAttrs([]slog.Attr) slog.Handler           { return r }
func (r *recorded) WithGroup(string) slog.Handler                { return r }

func (r *recorded) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

// count returns how many messages held snippet.
func (r *recorded) count(snippet string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, snippet) {
			n++
		}
	}
	return n
}

// start returns a started mirror on srv, closed when the test ends.
func start(t testing.TB, srv *redistest.Server, cfg redis.Config) *redis.Revocations {
	t.Helper()
	return startOn(t, client(t, srv), cfg)
}

// startOn returns a started mirror over c, closed when the test ends.
func startOn(t testing.TB, c goredis.UniversalClient, cfg redis.Config) *redis.Revocations {
	t.Helper()
	r, err := redis.NewRevocations(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func newSID(t testing.TB, at time.Time) string {
	t.Helper()
	sid, err := sessionid.New(at)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

func sessionEntry(t testing.TB, tenant, sid string) revoke.Entry {
	t.Helper()
	e, err := revoke.SessionEntry(tenant, sid, leeway)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// tok returns the claims of a session of alice in acme issued at iat.
func tok(t testing.TB, iat time.Time) token.Claims {
	sid := newSID(t, iat)
	return token.Claims{Tenant: "acme", Subject: "alice", SessionID: sid, ID: sid, IssuedAt: iat.Unix(), IssuedAtMs: iat.UnixMilli(), Expiry: iat.Add(time.Hour).Unix()}
}

// within polls cond every few milliseconds for up to d and returns how long
// it took, or fails the test.
func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return wait.Within(t, d, what, cond)
}

func revoked(r revoke.Store, c token.Claims) bool {
	ok, err := r.IsRevoked(&c)
	return ok && err == nil
}
