package incident_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/incident"
	"github.com/causeflow/widget-sessions/pkg/incident/incidenttest"
)

func TestMemoryCacheContract(t *testing.T) {
	incidenttest.RunCache(t, func(_ *testing.T, now func() time.Time) incident.Cache {
		return incident.NewMemoryCache(now)
	})
}

// TestMemoryCacheBounded: a cache full of fresh entries stays at its bound,
// and one full of expired entries makes room by dropping those.
func TestMemoryCacheBounded(t *testing.T) {
	now := time.Now()
	c := incident.NewMemoryCache(func() time.Time { return now })
	inc := incidenttest.Sample("inc")
	for i := range incident.DefaultCacheEntries + 50 {
		if err := c.Put(t.Context(), "demo", fmt.Sprint(i), inc, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n != incident.DefaultCacheEntries {
		t.Fatalf("Len = %d, want %d", n, incident.DefaultCacheEntries)
	}
	last := fmt.Sprint(incident.DefaultCacheEntries + 49)
	if _, ok, _ := c.Get(t.Context(), "demo", last); !ok {
		t.Error("the entry just put was evicted")
	}
	// Once the clock passes every TTL, a Get of an expired entry drops it.
	now = now.Add(time.Minute)
	if _, ok, _ := c.Get(t.Context(), "demo", last); ok || c.Len() != incident.DefaultCacheEntries-1 {
		t.Errorf("expired entry: ok %v, Len %d", ok, c.Len())
	}
}
