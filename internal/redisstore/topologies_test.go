//go:build faults

package redisstore_test

import (
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/budget/budgettest"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/quota/quotatest"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/ratelimit/ratelimittest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/stream/streamtest"
	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/internal/ticket/tickettest"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestTopologyContracts runs every store contract of the service (the
// event log, tickets, rate limits, tenant quotas and model budgets, the
// context cache; pkg/redis runs the revocations') on a real Redis Cluster
// and on a real Sentinel deployment, through the same URLs an operator
// writes: what holds on one server holds on both. On Sentinel every write
// waits for its replica.
func TestTopologyContracts(t *testing.T) {
	for _, topo := range []struct {
		name string
		url  func(t *testing.T) string
		repl redis.Replication
	}{
		{"cluster", func(t *testing.T) string { return redistest.StartCluster(t).URL() }, redis.Replication{}},
		{"sentinel", func(t *testing.T) string { return redistest.StartSentinel(t, 1).URL() }, redis.Replication{MinReplicas: 1}},
	} {
		t.Run(topo.name, func(t *testing.T) {
			c, err := redis.NewClient(topo.url(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			t.Run("event log", func(t *testing.T) {
				newLog := func(t *testing.T, opts eventstest.Options) events.Log {
					return startEventLog(t, c, redisstore.EventLogConfig{Namespace: namespace(), MaxLen: opts.MaxLen, Replication: topo.repl})
				}
				eventstest.Run(t, newLog)
				streamtest.RunFollow(t, newLog)
			})
			t.Run("tickets", func(t *testing.T) {
				tickettest.Run(t, func(_ *testing.T, _ func() time.Time, maxPerSession int) ticket.Store {
					return redisstore.NewTickets(c, namespace(), maxPerSession, topo.repl)
				})
			})
			t.Run("rate limits", func(t *testing.T) {
				ratelimittest.Run(t, func(t *testing.T, n int, window time.Duration, _ func() time.Time) ratelimit.Limiter {
					l, err := redisstore.NewRateLimiter(c, namespace(), n, window)
					if err != nil {
						t.Fatal(err)
					}
					return l
				})
			})
			t.Run("tenant quotas", func(t *testing.T) {
				quotatest.Run(t, func(*testing.T) quota.Store { return redisstore.NewQuota(c, namespace()) })
			})
			t.Run("model budgets", func(t *testing.T) {
				budgettest.Run(t, func(*testing.T) budget.Store { return redisstore.NewBudget(c, namespace()) })
			})
			t.Run("context cache", func(t *testing.T) {
				incidenttest.RunCache(t, func(*testing.T, func() time.Time) incident.Cache {
					return redisstore.NewIncidentCache(c, namespace())
				})
			})
		})
	}
}
