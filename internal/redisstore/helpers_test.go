package redisstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
)

var namespaces atomic.Int64

// namespace returns a namespace no other test uses, so tests can share a
// server.
func namespace() string {
	return fmt.Sprintf("store%d", namespaces.Add(1))
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

func newSID(t testing.TB, at time.Time) string {
	t.Helper()
	sid, err := sessionid.New(at)
	if err != nil {
		t.Fatal(err)
	}
	return sid
}

// within polls cond every few milliseconds for up to d and returns how long
// it took, or fails the test.
func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	return wait.Within(t, d, what, cond)
}
