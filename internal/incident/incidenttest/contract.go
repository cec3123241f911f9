package incidenttest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/incident"
)

// Run checks that the source newSource returns, holding data (a tenant
// with no incidents, an incident with empty optional members, ids full of
// characters that mean something in a URL or a key), answers as an
// incident.Source must. Every lookup must succeed or be
// incident.ErrNotFound: a source that can be reached always knows.
func Run(t *testing.T, newSource func(t *testing.T, data Data) incident.Source) {
	t.Helper()
	data := contractData()
	src := newSource(t, data)

	t.Run("every incident is found in its own tenant", func(t *testing.T) {
		for tenant, incs := range data {
			for _, want := range incs {
				got, err := src.Incident(t.Context(), tenant, want.ID)
				want.Tenant = tenant
				if err != nil || !same(got, want) {
					t.Errorf("Incident(%q, %q) = %+v, %v; want %+v", tenant, want.ID, got, err, want)
				}
			}
		}
	})

	notFound := []struct{ name, tenant, id string }{
		{"unknown incident", "demo", "inc_404"},
		{"prefix of an incident", "demo", "inc_"},
		{"ids are case-sensitive", "demo", "INC_1"},
		{"incident of another tenant", "demo", "inc_acme"},
		{"incident of another tenant, reversed", "acme", "inc_1"},
		{"unknown tenant", "nope", "inc_1"},
		{"tenant with no incidents", "empty", "inc_1"},
		{"tenant id as an incident id", "demo", "acme"},
		{"slash moved from tenant to incident", "t", "x/incidents/u"},
		{"what dot-dot slash would resolve to", "odd", "x"},
		{"first segment of a slash", "odd", "a"},
		{"doubly escaped slash", "odd", "a%252Fb"},
		{"plus is not a space", "odd", "a b"},
		{"colon split differently", "odd:a", "b"},
		{"bar split differently", "odd|a", "b"},
		{"dot", "odd", "."},
		{"dot-dot", "odd", ".."},
		{"dot-dot tenant", "..", "inc_1"},
		{"empty id", "demo", ""},
		{"empty tenant", "", "inc_1"},
	}
	for _, tc := range notFound {
		t.Run("not found: "+tc.name, func(t *testing.T) {
			got, err := src.Incident(t.Context(), tc.tenant, tc.id)
			if !errors.Is(err, incident.ErrNotFound) {
				t.Errorf("Incident(%q, %q) = %+v, %v; want ErrNotFound", tc.tenant, tc.id, got, err)
			}
			if errors.Is(err, incident.ErrUnavailable) {
				t.Errorf("Incident(%q, %q): %v is both not found and unavailable", tc.tenant, tc.id, err)
			}
		})
	}

	t.Run("a returned incident is the caller's own copy", func(t *testing.T) {
		a, err := src.Incident(t.Context(), "demo", "inc_1")
		if err != nil {
			t.Fatal(err)
		}
		a.Services[0], a.Timeline[0].Text, a.NextSteps[0] = "changed", "changed", "changed"
		b, err := src.Incident(t.Context(), "demo", "inc_1")
		if err != nil {
			t.Fatal(err)
		}
		if b.Services[0] == "changed" || b.Timeline[0].Text == "changed" || b.NextSteps[0] == "changed" {
			t.Errorf("changing one result changed the next: %+v", b)
		}
	})

	t.Run("concurrent lookups agree", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 32 {
			tenant, id := "demo", "inc_1"
			if i%2 == 1 {
				tenant, id = "odd", "a/b"
			}
			wg.Go(func() {
				got, err := src.Incident(t.Context(), tenant, id)
				if err != nil || got.ID != id || got.Tenant != tenant {
					t.Errorf("Incident(%q, %q) = %s/%s, %v", tenant, id, got.Tenant, got.ID, err)
				}
			})
		}
		wg.Wait()
	})
}

// ShortTTL is the TTL RunCache's expiry cases use. RunCache waits it out on
// the wall clock as well as on the clock it hands the cache, so that a cache
// whose expiry a server keeps (Redis) is tested as well as one that reads
// the clock.
const ShortTTL = 100 * time.Millisecond

// RunCache checks that the caches newCache returns behave as an
// incident.Cache must. newCache is called once per case with the clock the
// cache must read (a cache that keeps time elsewhere may ignore it); the
// cache starts empty.
func RunCache(t *testing.T, newCache func(t *testing.T, now func() time.Time) incident.Cache) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, c incident.Cache, clk *clock)
	}{
		{"miss on an empty cache", testCacheMiss},
		{"put then get", testCachePutGet},
		{"keys are tenant and id, unambiguously", testCacheKeys},
		{"put replaces", testCacheReplace},
		{"entries expire", testCacheExpiry},
		{"a TTL must be positive", testCacheBadTTL},
		{"concurrent puts and gets", testCacheConcurrent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Now()}
			tc.run(t, newCache(t, clk.Now), clk)
		})
	}
}

func put(t *testing.T, c incident.Cache, tenant, id string, inc incident.Incident, ttl time.Duration) {
	t.Helper()
	if err := c.Put(t.Context(), tenant, id, inc, ttl); err != nil {
		t.Fatalf("Put(%q, %q): %v", tenant, id, err)
	}
}

// wantHit checks that c holds want for tenant and id, with a remaining
// TTL that is positive and at most put, the TTL it was put with.
func wantHit(t *testing.T, c incident.Cache, tenant, id string, want incident.Incident, put time.Duration) {
	t.Helper()
	got, ttl, ok, err := c.Get(t.Context(), tenant, id)
	if err != nil || !ok || !same(got, want) {
		t.Errorf("Get(%q, %q) = %+v, %v, %v; want %+v", tenant, id, got, ok, err, want)
	}
	if ok && (ttl <= 0 || ttl > put) {
		t.Errorf("Get(%q, %q): remaining TTL %v, want it in (0, %v]", tenant, id, ttl, put)
	}
}

func wantMiss(t *testing.T, c incident.Cache, tenant, id string) {
	t.Helper()
	got, _, ok, err := c.Get(t.Context(), tenant, id)
	if err != nil || ok {
		t.Errorf("Get(%q, %q) = %+v, %v, %v; want a miss", tenant, id, got, ok, err)
	}
}

func withTenant(inc incident.Incident, tenant string) incident.Incident {
	inc.Tenant = tenant
	return inc
}

func testCacheMiss(t *testing.T, c incident.Cache, _ *clock) {
	wantMiss(t, c, "demo", "inc_1")
}

func testCachePutGet(t *testing.T, c incident.Cache, _ *clock) {
	inc := withTenant(Sample("inc_1"), "demo")
	put(t, c, "demo", "inc_1", inc, time.Minute)
	wantHit(t, c, "demo", "inc_1", inc, time.Minute)
	// Neither the caller's copy nor a returned one is the cache's.
	inc.Services[0] = "changed"
	got, _, _, _ := c.Get(t.Context(), "demo", "inc_1")
	if len(got.Services) > 0 {
		got.Services[0] = "changed too"
	}
	wantHit(t, c, "demo", "inc_1", withTenant(Sample("inc_1"), "demo"), time.Minute)
	empty := incident.Incident{ID: "inc_2", Tenant: "demo", Title: "t", Severity: incident.SeverityLow,
		Status: incident.StatusResolved, StartedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Services: []string{}, Timeline: []incident.TimelineEntry{}, NextSteps: []string{}}
	put(t, c, "demo", "inc_2", empty, time.Minute)
	wantHit(t, c, "demo", "inc_2", empty, time.Minute)
}

func testCacheKeys(t *testing.T, c incident.Cache, _ *clock) {
	// Pairs that a key built by joining with ":" or "|" (or with braces
	// unescaped) would confuse, each holding its own incident.
	keys := [][2]string{
		{"demo", "inc_1"}, {"acme", "inc_1"}, {"demo", "INC_1"},
		{"a:b", "c"}, {"a", "b:c"}, {"a:ctx:{b}", "c"}, {"a", "ctx:{b}:c"},
		{"a|b", "c"}, {"a", "b|c"}, {"a}", "b"}, {"a", "}b"}, {"a%7Cb", "c"},
		{"t/x", "u"}, {"t", "x/u"}, {"ünï", "ünï"},
	}
	for i, k := range keys {
		put(t, c, k[0], k[1], withTenant(Sample(fmt.Sprintf("inc_%d", i)), k[0]), time.Minute)
	}
	for i, k := range keys {
		wantHit(t, c, k[0], k[1], withTenant(Sample(fmt.Sprintf("inc_%d", i)), k[0]), time.Minute)
	}
	wantMiss(t, c, "demo", "inc_2")
	wantMiss(t, c, "b", "c")
	wantMiss(t, c, "a", "b")
}

func testCacheReplace(t *testing.T, c incident.Cache, _ *clock) {
	first := withTenant(Sample("inc_1"), "demo")
	second := first.Clone()
	second.Status, second.Timeline = incident.StatusResolved, append(second.Timeline, incident.TimelineEntry{At: first.StartedAt.Add(time.Hour), Text: "Resolved"})
	put(t, c, "demo", "inc_1", first, time.Minute)
	put(t, c, "demo", "inc_1", second, time.Minute)
	wantHit(t, c, "demo", "inc_1", second, time.Minute)
}

func testCacheExpiry(t *testing.T, c incident.Cache, clk *clock) {
	short := withTenant(Sample("inc_short"), "demo")
	long := withTenant(Sample("inc_long"), "demo")
	put(t, c, "demo", "inc_short", short, ShortTTL)
	put(t, c, "demo", "inc_long", long, time.Hour)
	wantHit(t, c, "demo", "inc_short", short, ShortTTL)
	clk.Advance(ShortTTL / 2)
	wantHit(t, c, "demo", "inc_short", short, ShortTTL)
	clk.Advance(ShortTTL)
	time.Sleep(ShortTTL + ShortTTL/2)
	wantMiss(t, c, "demo", "inc_short")
	wantHit(t, c, "demo", "inc_long", long, time.Hour)
}

func testCacheBadTTL(t *testing.T, c incident.Cache, _ *clock) {
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := c.Put(t.Context(), "demo", "inc_1", withTenant(Sample("inc_1"), "demo"), ttl); err == nil {
			t.Errorf("Put with TTL %v: no error", ttl)
		}
	}
	wantMiss(t, c, "demo", "inc_1")
}

func testCacheConcurrent(t *testing.T, c incident.Cache, _ *clock) {
	var wg sync.WaitGroup
	for i := range 16 {
		id := fmt.Sprintf("inc_%d", i%4)
		wg.Go(func() {
			inc := withTenant(Sample(id), "demo")
			if err := c.Put(t.Context(), "demo", id, inc, time.Minute); err != nil {
				t.Errorf("Put: %v", err)
				return
			}
			got, _, ok, err := c.Get(t.Context(), "demo", id)
			if err != nil || !ok || !same(got, inc) {
				t.Errorf("Get(demo, %s) = %v, %v; want its own incident", id, ok, err)
			}
		})
	}
	wg.Wait()
}
