//go:build faults

package redistest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestTopologies: the cluster serves every slot with a replica each, the
// sentinels watch a master with its replica, and killing a master gets its
// replica promoted by the engine itself.
func TestTopologies(t *testing.T) {
	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartCluster(t)
		if !strings.HasPrefix(c.URL(), "redis+cluster://") || strings.Count(c.URL(), "addr=") != 5 {
			t.Errorf("URL %s", c.URL())
		}
		old := c.MasterOf("{wrev-test}")
		old.Stop()
		begin := time.Now()
		if m := c.WaitServed("{wrev-test}", old, 15*time.Second); m == old {
			t.Fatal("no promotion")
		}
		t.Logf("cluster: a replica took over %v after the kill", time.Since(begin))
	})
	t.Run("sentinel", func(t *testing.T) {
		s := redistest.StartSentinel(t, 1)
		old := s.CurrentMaster()
		if old != s.Master {
			t.Fatalf("the sentinels name %s, want the master %s", old.Addr(), s.Master.Addr())
		}
		old.Stop()
		begin := time.Now()
		if m := s.WaitPromoted(old, 15*time.Second); m != s.Replicas[0] {
			t.Fatal("the replica was not promoted")
		}
		t.Logf("sentinel: the replica was promoted %v after the kill", time.Since(begin))
	})
}
