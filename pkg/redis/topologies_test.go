//go:build faults

package redis_test

import (
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/revoke/revoketest"
)

// TestTopologyContracts runs the revocation store's contract on a real
// Redis Cluster and on a real Sentinel deployment, through the same URLs an
// operator writes: what holds on one server holds on both. On Sentinel
// every write waits for its replica. The service's other stores run the
// same way in internal/redisstore.
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
			revoketest.Run(t, func(t *testing.T, now func() time.Time) revoke.Store {
				ns := namespace()
				seedMarker(t, c, ns)
				cfg := fast()
				cfg.Namespace, cfg.Now, cfg.Replication = ns, now, topo.repl
				return startOn(t, c, cfg)
			})
		})
	}
}
