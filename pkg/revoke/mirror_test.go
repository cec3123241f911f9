package revoke_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// fakeSource is a shared store in memory: a set, a version counter and a
// marker, which a test changes behind the mirror's back, as another
// replica, a lost message or a failing Redis would.
type fakeSource struct {
	mu       sync.Mutex
	set      revoke.Set
	version  int64
	marker   bool
	down     bool // every call fails
	tooMany  bool // Load answers ErrTooMany
	marks    int
	repaired []revoke.Entry
	now      func() time.Time
}

var errDown = errors.New("fake: store down")

func (f *fakeSource) Poll(context.Context) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, false, errDown
	}
	return f.version, f.marker, nil
}

func (f *fakeSource) Load(context.Context) (revoke.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.down:
		return revoke.Snapshot{}, errDown
	case f.tooMany:
		return revoke.Snapshot{}, revoke.ErrTooMany
	}
	var copied revoke.Set
	for e := range f.set.All() {
		copied.Add(e)
	}
	return revoke.Snapshot{Set: copied, Version: f.version, Marker: f.marker}, nil
}

func (f *fakeSource) Mark(context.Context) (revoke.Entry, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return revoke.Entry{}, false, errDown
	}
	f.marks++
	if f.marker {
		return revoke.Entry{}, false, nil
	}
	all := revoke.AllEntry(f.now(), time.Minute)
	f.set.Add(all)
	f.version++
	f.marker = true
	return all, true, nil
}

func (f *fakeSource) Repair(_ context.Context, suspects []revoke.Entry) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range suspects {
		if !f.set.Covers(e) {
			f.set.Add(e)
			f.repaired = append(f.repaired, e)
			n++
		}
	}
	return n, nil
}

// write is another replica's write: stored and published (version bumped);
// the caller decides whether this mirror hears of it.
func (f *fakeSource) write(e revoke.Entry) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set.Add(e)
	f.version++
	return f.version
}

func (f *fakeSource) setDown(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

// mirrorWorld runs fn in a synctest bubble with a started mirror of a
// fake source holding a marker, polling every second with a 5 s budget.
func mirrorWorld(t *testing.T, fn func(t *testing.T, m *revoke.Mirror, src *fakeSource)) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{marker: true, now: time.Now}
		m, err := revoke.NewMirror(src, revoke.MirrorConfig{Leeway: time.Minute, MaxEntries: 10})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); m.Run(ctx) }()
		fn(t, m, src)
		cancel()
		<-done
		m.Close()
	})
}

func claimsOf(tenant, user string, iat time.Time) *token.Claims {
	return &token.Claims{Tenant: tenant, Subject: user, SessionID: "wsess_x", IssuedAt: iat.Unix()}
}

func wantRevoked(t *testing.T, m *revoke.Mirror, c *token.Claims, want bool) {
	t.Helper()
	got, err := m.IsRevoked(c)
	if err != nil || got != want {
		t.Fatalf("IsRevoked = %v, %v; want %v", got, err, want)
	}
}

// TestMirrorFollows: published writes apply at once; a write whose
// message never came is found by the next polls (the version moved on)
// and loaded; the mirror stays fresh throughout.
func TestMirrorFollows(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		iat := time.Now().Add(-time.Minute)
		e := revoke.UserEntry("acme", "alice", time.Now(), time.Minute)
		v := src.write(e)
		m.Apply(e)
		m.Noted(v)
		wantRevoked(t, m, claimsOf("acme", "alice", iat), true)

		lost := revoke.UserEntry("acme", "bob", time.Now(), time.Minute)
		src.write(lost) // its message is lost
		wantRevoked(t, m, claimsOf("acme", "bob", iat), false)
		time.Sleep(2*time.Second + time.Millisecond) // one poll sees the version, the next re-syncs
		synctest.Wait()
		wantRevoked(t, m, claimsOf("acme", "bob", iat), true)
		if err := m.Fresh(); err != nil {
			t.Errorf("Fresh = %v after a gap was made good", err)
		}
	})
}

// TestMirrorStaleness: with the store down the mirror keeps answering
// within its budget, then fails closed (a token it knows revoked stays
// revoked), and is fresh again at the first poll once the store is back.
func TestMirrorStaleness(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		iat := time.Now().Add(-time.Minute)
		e := revoke.UserEntry("acme", "alice", time.Now(), time.Minute)
		m.Noted(src.write(e))
		m.Apply(e)
		src.setDown(true)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if err := m.Fresh(); err != nil {
			t.Fatalf("stale after 4s of a 5s budget: %v", err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if _, err := m.IsRevoked(claimsOf("acme", "carol", iat)); !errors.Is(err, revoke.ErrStale) {
			t.Fatalf("IsRevoked past the budget = %v, want ErrStale", err)
		}
		wantRevoked(t, m, claimsOf("acme", "alice", iat), true)
		if m.Age() < 5*time.Second {
			t.Errorf("Age = %v, want past the budget", m.Age())
		}
		src.setDown(false)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if err := m.Fresh(); err != nil {
			t.Errorf("Fresh = %v a poll after the store came back", err)
		}
	})
}

// TestMirrorLoss: the marker gone (the store lost its data) makes the
// mirror mark the store: an all entry, every earlier token revoked.
func TestMirrorLoss(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		iat := time.Now().Add(-time.Minute)
		src.mu.Lock()
		src.set, src.marker, src.version = revoke.Set{}, false, 0 // emptied
		src.mu.Unlock()
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		wantRevoked(t, m, claimsOf("demo", "anyone", iat), true) // the all entry
		src.mu.Lock()
		defer src.mu.Unlock()
		if src.marks == 0 || !src.marker {
			t.Error("the mirror did not mark the emptied store")
		}
	})
}

// TestMirrorRepairs: the store keeps its marker but loses an entry and
// goes back a version (a failover to a lagging replica): the mirror, which
// never drops an unexpired entry, keeps refusing the token and writes the
// entry back.
func TestMirrorRepairs(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		iat := time.Now().Add(-time.Minute)
		e := revoke.UserEntry("acme", "alice", time.Now(), time.Minute)
		m.Noted(src.write(e))
		m.Apply(e)
		src.mu.Lock()
		src.set, src.version = revoke.Set{}, 0 // the marker stays
		src.mu.Unlock()
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		wantRevoked(t, m, claimsOf("acme", "alice", iat), true)
		src.mu.Lock()
		defer src.mu.Unlock()
		if len(src.repaired) != 1 || src.repaired[0].Subject != "alice" {
			t.Errorf("repaired %v, want alice's entry written back", src.repaired)
		}
	})
}

// TestMirrorBounded: a store holding more than MaxEntries is refused
// (Sync fails, the mirror fails closed), and published entries past the
// bound are not applied: the mirror fails closed instead of growing.
func TestMirrorBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{marker: true, tooMany: true, now: time.Now}
		m, err := revoke.NewMirror(src, revoke.MirrorConfig{MaxEntries: 3})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Sync(t.Context()); !errors.Is(err, revoke.ErrTooMany) {
			t.Fatalf("Sync on an over-full store = %v, want ErrTooMany", err)
		}
		src.tooMany = false
		if err := m.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"a", "b", "c", "d"} {
			m.Apply(revoke.UserEntry("acme", u, time.Now(), time.Minute))
		}
		if n := m.Len(); n != 3 {
			t.Errorf("Len = %d, want the bound of 3", n)
		}
		if err := m.Fresh(); !errors.Is(err, revoke.ErrStale) {
			t.Errorf("Fresh past the bound = %v, want ErrStale", err)
		}
		m.Close()
	})
}

// TestMirrorFeedDown: while the adapter's feed is broken, the mirror polls
// four times as often, and the first poll that finds the store ahead
// re-syncs, without waiting a poll interval for a message that cannot come.
func TestMirrorFeedDown(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		iat := time.Now().Add(-time.Minute)
		m.FeedDown(true)
		time.Sleep(time.Second) // the next tick comes at the shorter interval
		src.write(revoke.UserEntry("acme", "bob", time.Now(), time.Minute))
		time.Sleep(250*time.Millisecond + time.Millisecond) // one poll
		synctest.Wait()
		wantRevoked(t, m, claimsOf("acme", "bob", iat), true)
	})
}

// TestMirrorBlindBudget: with its feed down, a mirror whose polls also
// fail vouches for one poll interval past its last confirmation, not the
// whole budget: a revocation acknowledged elsewhere just before the store
// went away is ignored for at most that long. With the store answering,
// polls keep it fresh.
func TestMirrorBlindBudget(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		m.FeedDown(true)
		time.Sleep(3 * time.Second) // polls succeed: fresh
		synctest.Wait()
		if err := m.Fresh(); err != nil {
			t.Fatalf("feed down, store up: %v", err)
		}
		src.setDown(true)
		time.Sleep(1100 * time.Millisecond)
		synctest.Wait()
		if err := m.Fresh(); !errors.Is(err, revoke.ErrStale) {
			t.Fatalf("feed and store down for more than a poll interval: Fresh = %v, want ErrStale", err)
		}
		src.setDown(false)
		m.FeedDown(false)
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if err := m.Fresh(); err != nil {
			t.Errorf("back: Fresh = %v", err)
		}
	})
}

// TestMirrorInFlightNotFresh: a poll that finds a write whose message has
// not arrived does not count as a confirmation (the mirror is not current
// as of it); the next poll re-syncs, and that does.
func TestMirrorInFlightNotFresh(t *testing.T) {
	mirrorWorld(t, func(t *testing.T, m *revoke.Mirror, src *fakeSource) {
		time.Sleep(500 * time.Millisecond)
		src.write(revoke.UserEntry("acme", "bob", time.Now(), time.Minute)) // its message is in flight
		time.Sleep(600 * time.Millisecond)                                  // the poll at 1 s sees it
		synctest.Wait()
		if age := m.Age(); age < time.Second {
			t.Errorf("Age = %v after a poll that found a write in flight; that poll must not confirm the mirror", age)
		}
		time.Sleep(time.Second) // the next poll re-syncs
		synctest.Wait()
		if age := m.Age(); age >= time.Second {
			t.Errorf("Age = %v after the re-sync, want it confirmed", age)
		}
		wantRevoked(t, m, claimsOf("acme", "bob", time.Now().Add(-time.Hour)), true)
	})
}
