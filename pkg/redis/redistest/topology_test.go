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
	// WaitStable outlasts a second failover that begins after the first
	// has settled: here the promoted master hangs half a second after the
	// deployment settled, as it seemed to the sentinels in CI's false
	// positive, and comes back once they have failed over again.
	t.Run("sentinel, a second failover after the first settled", func(t *testing.T) {
		s := redistest.StartSentinel(t, 2)
		old := s.CurrentMaster()
		old.Stop()
		first := s.WaitPromoted(old, 20*time.Second)
		if _, n := s.WaitSettled(30 * time.Second); n != 1 {
			t.Skipf("the sentinels failed over %d times before the test's own second failover", n)
		}
		thawed := make(chan time.Time, 1)
		go func() {
			time.Sleep(500 * time.Millisecond)
			first.Freeze()
			for end := time.Now().Add(30 * time.Second); s.Failovers() < 2 && time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
			}
			first.Thaw()
			thawed <- time.Now()
		}()
		master, failovers, settled := s.WaitStable(60 * time.Second)
		at := <-thawed
		if failovers != 2 || master == first || master == old {
			t.Fatalf("WaitStable returned after %d failovers with master %s, want 2 and neither %s nor %s", failovers, master.Addr(), first.Addr(), old.Addr())
		}
		if settled.Before(at) {
			t.Errorf("WaitStable said the deployment settled at %v, before the hung master was back at %v", settled.Format("15:04:05.000"), at.Format("15:04:05.000"))
		}
		t.Logf("sentinel: stable after the second failover, %v after the hung master came back", settled.Sub(at))
	})
}
