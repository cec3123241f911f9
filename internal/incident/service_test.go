package incident_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
)

// fakeCache is a Cache made of functions; nil ones behave as an empty,
// working cache.
type fakeCache struct {
	get  func(tenant, id string) (incident.Incident, bool, error)
	put  func(tenant, id string, inc incident.Incident, ttl time.Duration) error
	puts atomic.Int64
	gets atomic.Int64
}

// Get answers what get does, with a remaining TTL of a minute.
func (c *fakeCache) Get(_ context.Context, tenant, id string) (incident.Incident, time.Duration, bool, error) {
	c.gets.Add(1)
	if c.get == nil {
		return incident.Incident{}, 0, false, nil
	}
	inc, ok, err := c.get(tenant, id)
	return inc, time.Minute, ok, err
}

func (c *fakeCache) Put(_ context.Context, tenant, id string, inc incident.Incident, ttl time.Duration) error {
	c.puts.Add(1)
	if c.put == nil {
		return nil
	}
	return c.put(tenant, id, inc, ttl)
}

func sample(tenant, id string) incident.Incident {
	inc := incidenttest.Sample(id)
	inc.Tenant = tenant
	return inc
}

func TestServiceLookup(t *testing.T) {
	down := fmt.Errorf("%w: connection refused", incident.ErrUnavailable)
	cases := []struct {
		name       string
		tenant, id string
		cache      *fakeCache
		source     func(tenant, id string) (incident.Incident, error)
		wantErr    error // nil: the sample incident of tenant and id
		wantCalls  int64 // source calls
		wantPuts   int64
		wantWarns  int
	}{
		{"cache hit", "demo", "inc_1",
			&fakeCache{get: func(tenant, id string) (incident.Incident, bool, error) { return sample(tenant, id), true, nil }},
			nil, nil, 0, 0, 0},
		{"miss: source, then put", "demo", "inc_1", &fakeCache{},
			func(_, id string) (incident.Incident, error) { return incidenttest.Sample(id), nil }, nil, 1, 1, 0},
		{"the source's tenant is overwritten", "demo", "inc_1", &fakeCache{},
			func(_, id string) (incident.Incident, error) { return sample("acme", id), nil }, nil, 1, 1, 0},
		{"cache read fails: source", "demo", "inc_1",
			&fakeCache{get: func(string, string) (incident.Incident, bool, error) {
				return incident.Incident{}, false, errors.New("redis down")
			}},
			func(_, id string) (incident.Incident, error) { return incidenttest.Sample(id), nil }, nil, 1, 1, 1},
		{"cache write fails: still answered", "demo", "inc_1",
			&fakeCache{put: func(string, string, incident.Incident, time.Duration) error { return errors.New("redis down") }},
			func(_, id string) (incident.Incident, error) { return incidenttest.Sample(id), nil }, nil, 1, 1, 1},
		{"cached incident of another tenant is not served", "demo", "inc_1",
			&fakeCache{get: func(_, id string) (incident.Incident, bool, error) { return sample("acme", id), true, nil }},
			func(_, id string) (incident.Incident, error) { return incidenttest.Sample(id), nil }, nil, 1, 1, 0},
		{"cached incident with another id is not served", "demo", "inc_1",
			&fakeCache{get: func(tenant, _ string) (incident.Incident, bool, error) { return sample(tenant, "inc_2"), true, nil }},
			func(_, id string) (incident.Incident, error) { return incidenttest.Sample(id), nil }, nil, 1, 1, 0},
		{"not found", "demo", "inc_1", &fakeCache{},
			func(string, string) (incident.Incident, error) { return incident.Incident{}, incident.ErrNotFound }, incident.ErrNotFound, 1, 0, 0},
		{"not found, wrapped", "demo", "inc_1", &fakeCache{},
			func(string, string) (incident.Incident, error) {
				return incident.Incident{}, fmt.Errorf("x: %w", incident.ErrNotFound)
			}, incident.ErrNotFound, 1, 0, 0},
		{"unavailable", "demo", "inc_1", &fakeCache{},
			func(string, string) (incident.Incident, error) { return incident.Incident{}, down }, incident.ErrUnavailable, 1, 0, 0},
		{"an unknown error is unavailable", "demo", "inc_1", &fakeCache{},
			func(string, string) (incident.Incident, error) { return incident.Incident{}, errors.New("boom") }, incident.ErrUnavailable, 1, 0, 0},
		{"source answers another incident", "demo", "inc_1", &fakeCache{},
			func(tenant, _ string) (incident.Incident, error) { return sample(tenant, "inc_2"), nil }, incident.ErrUnavailable, 1, 0, 0},
		{"empty id: not asked", "demo", "", &fakeCache{}, nil, incident.ErrNotFound, 0, 0, 0},
		{"dot-dot id: not asked", "demo", "..", &fakeCache{}, nil, incident.ErrNotFound, 0, 0, 0},
		{"dot tenant: not asked", ".", "inc_1", &fakeCache{}, nil, incident.ErrNotFound, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int64
			src := sourceFunc(func(_ context.Context, tenant, id string) (incident.Incident, error) {
				calls.Add(1)
				return tc.source(tenant, id)
			})
			core, logs := observer.New(zap.WarnLevel)
			s := incident.NewService(src, tc.cache, time.Minute, zap.New(core), nil)
			got, err := s.Lookup(t.Context(), tc.tenant, tc.id)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got.ID != "" {
					t.Errorf("Lookup = %+v, %v; want %v", got, err, tc.wantErr)
				}
				if errors.Is(err, incident.ErrNotFound) && errors.Is(err, incident.ErrUnavailable) {
					t.Errorf("error %v is both not found and unavailable", err)
				}
			} else if want := sample(tc.tenant, tc.id); err != nil || got.ID != want.ID || got.Tenant != want.Tenant || got.Title != want.Title {
				t.Errorf("Lookup = %+v, %v; want %+v", got, err, want)
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Errorf("%d source calls, want %d", n, tc.wantCalls)
			}
			if n := tc.cache.puts.Load(); n != tc.wantPuts {
				t.Errorf("%d puts, want %d", n, tc.wantPuts)
			}
			if n := logs.Len(); n != tc.wantWarns {
				t.Errorf("%d warnings, want %d: %v", n, tc.wantWarns, logs.All())
			}
		})
	}
}

func TestServicePutsWithItsTTL(t *testing.T) {
	for _, tc := range []struct{ ttl, want time.Duration }{{time.Minute, time.Minute}, {0, incident.DefaultCacheTTL}, {-1, incident.DefaultCacheTTL}} {
		var got time.Duration
		cache := &fakeCache{put: func(_, _ string, _ incident.Incident, ttl time.Duration) error { got = ttl; return nil }}
		src := sourceFunc(func(_ context.Context, _, id string) (incident.Incident, error) { return incidenttest.Sample(id), nil })
		if _, err := incident.NewService(src, cache, tc.ttl, nil, nil).Lookup(t.Context(), "demo", "inc_1"); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("NewService(ttl %v) puts with %v, want %v", tc.ttl, got, tc.want)
		}
	}
}

// TestServiceWarm: warming at mint time fills the cache the edge reads, so
// that the edge answers while the source is down.
func TestServiceWarm(t *testing.T) {
	f := parse(t, incidenttest.Data{"demo": {incidenttest.Sample("inc_1")}})
	var up atomic.Bool
	up.Store(true)
	var calls atomic.Int64
	src := sourceFunc(func(ctx context.Context, tenant, id string) (incident.Incident, error) {
		calls.Add(1)
		if !up.Load() {
			return incident.Incident{}, fmt.Errorf("%w: down", incident.ErrUnavailable)
		}
		return f.Incident(ctx, tenant, id)
	})
	s := incident.NewService(src, nil, time.Minute, nil, nil)

	if err := s.Warm(t.Context(), "demo", "inc_1"); err != nil {
		t.Fatalf("Warm(existing) = %v", err)
	}
	if err := s.Warm(t.Context(), "demo", "inc_404"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("Warm(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.Warm(t.Context(), "acme", "inc_1"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("Warm(another tenant's) = %v, want ErrNotFound", err)
	}
	up.Store(false)
	if err := s.Warm(t.Context(), "demo", "inc_2"); !errors.Is(err, incident.ErrUnavailable) {
		t.Errorf("Warm(source down) = %v, want ErrUnavailable", err)
	}
	before := calls.Load()
	inc, err := s.Lookup(t.Context(), "demo", "inc_1")
	if err != nil || inc.ID != "inc_1" || inc.Tenant != "demo" {
		t.Errorf("Lookup after Warm, source down = %+v, %v", inc, err)
	}
	if err := s.Warm(t.Context(), "demo", "inc_1"); err != nil {
		t.Errorf("Warm(cached), source down = %v", err)
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("%d source calls for a cached incident, want 0", n)
	}
	// Its not-found is remembered (TestServiceRemembersNotFound): still
	// not found with the source down, and never demo's context.
	if _, err := s.Lookup(t.Context(), "acme", "inc_1"); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("Lookup of another tenant, source down = %v; want the remembered ErrNotFound, never demo's context", err)
	}
	if _, err := s.Lookup(t.Context(), "acme", "inc_9"); !errors.Is(err, incident.ErrUnavailable) {
		t.Errorf("Lookup of another incident, source down = %v; want ErrUnavailable", err)
	}
}

// TestServiceHoldsContextsInProcess: once a replica holds a context, a
// lookup costs neither the shared cache nor the source, until what
// remained of the shared entry's life has passed; then it reads again.
func TestServiceHoldsContextsInProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		src := sourceFunc(func(_ context.Context, tenant, id string) (incident.Incident, error) {
			calls.Add(1)
			return sample(tenant, id), nil
		})
		for _, tc := range []struct {
			name string
			// shared holds the incident, or is empty
			shared    bool
			holdFor   time.Duration
			wantCalls int64
		}{
			{"from the shared cache: until its entry expires", true, time.Minute, 0},
			{"from the source: for the TTL", false, 5 * time.Minute, 1},
		} {
			calls.Store(0)
			cache := &fakeCache{}
			if tc.shared {
				cache.get = func(tenant, id string) (incident.Incident, bool, error) { return sample(tenant, id), true, nil }
			}
			s := incident.NewService(src, cache, 5*time.Minute, nil, nil)
			for range 100 {
				inc, err := s.Lookup(t.Context(), "demo", "inc_1")
				if err != nil || inc.ID != "inc_1" {
					t.Fatalf("%s: Lookup = %+v, %v", tc.name, inc, err)
				}
				inc.Services[0] = "changed by a caller" // each caller gets its own copy
			}
			if g, c := cache.gets.Load(), calls.Load(); g != 1 || c != tc.wantCalls {
				t.Errorf("%s: 100 lookups made %d shared reads and %d source calls, want 1 and %d", tc.name, g, c, tc.wantCalls)
			}
			if inc, _ := s.Lookup(t.Context(), "demo", "inc_1"); inc.Services[0] == "changed by a caller" {
				t.Errorf("%s: a caller's change reached the held copy", tc.name)
			}
			time.Sleep(tc.holdFor - time.Nanosecond)
			_, _ = s.Lookup(t.Context(), "demo", "inc_1")
			if g := cache.gets.Load(); g != 1 {
				t.Errorf("%s: read the shared cache again before the entry expired", tc.name)
			}
			time.Sleep(time.Nanosecond)
			_, _ = s.Lookup(t.Context(), "demo", "inc_1")
			if g := cache.gets.Load(); g != 2 {
				t.Errorf("%s: %d shared reads after the held copy expired, want 2", tc.name, g)
			}
		}
	})
}

// TestServiceRemembersNotFound: an incident the source does not have is
// remembered for NotFoundTTL on the replica, so that lookups of it (a
// session whose incident is gone, loaded again and again) do not each reach
// the source; then the source is asked again, and an incident created
// meanwhile is found. "Cannot tell" is never remembered.
func TestServiceRemembersNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		var exists, down atomic.Bool
		src := sourceFunc(func(_ context.Context, tenant, id string) (incident.Incident, error) {
			calls.Add(1)
			switch {
			case down.Load():
				return incident.Incident{}, fmt.Errorf("%w: connection refused", incident.ErrUnavailable)
			case exists.Load():
				return sample(tenant, id), nil
			}
			return incident.Incident{}, incident.ErrNotFound
		})
		s := incident.NewService(src, &fakeCache{}, 5*time.Minute, nil, nil)
		for range 100 {
			if _, err := s.Lookup(t.Context(), "demo", "inc_gone"); !errors.Is(err, incident.ErrNotFound) {
				t.Fatalf("Lookup = %v, want ErrNotFound", err)
			}
		}
		if err := s.Warm(t.Context(), "demo", "inc_gone"); !errors.Is(err, incident.ErrNotFound) || calls.Load() != 1 {
			t.Fatalf("101 lookups of an unknown incident made %d source calls (warm: %v), want 1", calls.Load(), err)
		}
		exists.Store(true)
		time.Sleep(incident.NotFoundTTL)
		if inc, err := s.Lookup(t.Context(), "demo", "inc_gone"); err != nil || inc.ID != "inc_gone" || calls.Load() != 2 {
			t.Fatalf("after NotFoundTTL: %+v, %v, %d calls; want the incident created meanwhile, from a second call", inc, err, calls.Load())
		}
		down.Store(true)
		for range 3 {
			if _, err := s.Lookup(t.Context(), "demo", "inc_other"); !errors.Is(err, incident.ErrUnavailable) {
				t.Fatalf("source down: %v", err)
			}
		}
		if calls.Load() != 5 {
			t.Errorf("%d source calls; an unavailable source must be asked each time (want 5)", calls.Load())
		}
	})
}

// TestServiceSharesOneRead: concurrent lookups of one incident on a replica
// make one source request; a caller that gives up gets ErrUnavailable at
// once, and the read goes on for the others.
func TestServiceSharesOneRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int64
		src := sourceFunc(func(_ context.Context, tenant, id string) (incident.Incident, error) {
			calls.Add(1)
			time.Sleep(time.Second) // a slow source
			return sample(tenant, id), nil
		})
		s := incident.NewService(src, nil, time.Minute, nil, nil)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if _, err := s.Lookup(t.Context(), "demo", "inc_1"); err != nil {
					t.Errorf("Lookup: %v", err)
				}
			})
		}
		impatient, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		if _, err := s.Lookup(impatient, "demo", "inc_1"); !errors.Is(err, incident.ErrUnavailable) || errors.Is(err, incident.ErrNotFound) {
			t.Errorf("a caller that gave up: %v, want ErrUnavailable", err)
		}
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("%d source calls for 11 concurrent lookups, want 1", n)
		}
	})
}
