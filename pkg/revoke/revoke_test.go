package revoke_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/revoke/revoketest"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

func TestMemoryContract(t *testing.T) {
	revoketest.Run(t, func(t *testing.T, now func() time.Time) revoke.Store {
		return revoke.NewMemory(now, revoke.Limits{})
	})
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func sid(t testing.TB, at time.Time) string {
	t.Helper()
	id, err := sessionid.New(at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestConstructors(t *testing.T) {
	const leeway = 30 * time.Second
	s := sid(t, t0)
	now := t0.Add(1500 * time.Millisecond)
	cases := []struct {
		name                 string
		got                  func() (revoke.Entry, error)
		kind                 revoke.Kind
		tenant, subject      string
		before, expires      time.Time
		wantErrInvalidEntity bool
	}{
		{"session expires from its KSUID", func() (revoke.Entry, error) { return revoke.SessionEntry("acme", s, leeway) },
			revoke.KindSession, "acme", s, time.Time{}, t0.Add(widget.MaxTTL + leeway), false},
		{"session with a bad id", func() (revoke.Entry, error) { return revoke.SessionEntry("acme", "wsess_x", leeway) },
			0, "", "", time.Time{}, time.Time{}, true},
		{"user: before to the millisecond, expiry rounded up", func() (revoke.Entry, error) { return revoke.UserEntry("acme", "alice", now, leeway), nil },
			revoke.KindUser, "acme", "alice", now.Truncate(time.Millisecond), t0.Add(2*time.Second + widget.MaxTTL + leeway), false},
		{"tenant", func() (revoke.Entry, error) { return revoke.TenantEntry("acme", t0, leeway), nil },
			revoke.KindTenant, "acme", "", t0, t0.Add(widget.MaxTTL + leeway), false},
		{"all", func() (revoke.Entry, error) { return revoke.AllEntry(t0, 0), nil },
			revoke.KindAll, "", "", t0, t0.Add(widget.MaxTTL), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := tc.got()
			if tc.wantErrInvalidEntity {
				if !errors.Is(err, revoke.ErrInvalidEntry) {
					t.Fatalf("err = %v; want ErrInvalidEntry", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := revoke.Entry{Kind: tc.kind, Tenant: tc.tenant, Subject: tc.subject, Before: tc.before, Expires: tc.expires}
			if e.Kind != want.Kind || e.Tenant != want.Tenant || e.Subject != want.Subject ||
				!e.Before.Equal(want.Before) || !e.Expires.Equal(want.Expires) {
				t.Fatalf("got %v; want %v", e, want)
			}
			if err := e.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestKindNames(t *testing.T) {
	for _, k := range []revoke.Kind{revoke.KindSession, revoke.KindUser, revoke.KindTenant, revoke.KindAll} {
		t.Run(k.String(), func(t *testing.T) {
			if got, err := revoke.ParseKind(k.String()); err != nil || got != k {
				t.Fatalf("ParseKind(%q) = %v, %v", k.String(), got, err)
			}
		})
	}
	if _, err := revoke.ParseKind("Session"); !errors.Is(err, revoke.ErrInvalidEntry) {
		t.Fatalf("ParseKind(Session) err = %v", err)
	}
}

func TestSetAddMerges(t *testing.T) {
	var s revoke.Set
	first := revoke.UserEntry("acme", "alice", t0, 0)
	cases := []struct {
		name        string
		e           revoke.Entry
		wantChanged bool
		wantBefore  time.Time
	}{
		{"new entry", first, true, t0},
		{"same again", first, false, t0},
		{"older revocation keeps the later time", revoke.UserEntry("acme", "alice", t0.Add(-time.Hour), 0), false, t0},
		{"longer leeway extends the expiry only", revoke.UserEntry("acme", "alice", t0, time.Hour), true, t0},
		{"later revocation moves the time", revoke.UserEntry("acme", "alice", t0.Add(time.Minute), 0), true, t0.Add(time.Minute)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			merged, changed := s.Add(tc.e)
			if changed != tc.wantChanged || !merged.Before.Equal(tc.wantBefore) {
				t.Fatalf("Add = %v, %v; want before %v, changed %v", merged, changed, tc.wantBefore, tc.wantChanged)
			}
			if s.Len() != 1 {
				t.Fatalf("Len = %d; want 1", s.Len())
			}
		})
	}
	if got := s.Entries()[0].Expires; !got.Equal(t0.Add(widget.MaxTTL + time.Hour)) {
		t.Fatalf("merged expiry %v; want the later one", got)
	}
	if _, changed := s.Add(revoke.Entry{Kind: revoke.KindUser}); changed || s.Len() != 1 {
		t.Fatal("an invalid entry was added")
	}
}

func TestSetPrune(t *testing.T) {
	var s revoke.Set
	short, _ := revoke.SessionEntry("acme", sid(t, t0.Add(-widget.MaxTTL)), 0) // expires at t0
	s.Add(short)
	s.Add(revoke.TenantEntry("acme", t0, 0)) // expires at t0 + MaxTTL
	s.Add(revoke.AllEntry(t0.Add(-widget.MaxTTL+time.Minute), 0))
	cases := []struct {
		name    string
		now     time.Time
		removed int
		left    int
	}{
		{"nothing due", t0.Add(-time.Hour), 0, 3},
		{"at the expiry second the entry still holds", t0.Add(999 * time.Millisecond), 0, 3},
		{"after it", t0.Add(time.Second), 1, 2},
		{"again", t0.Add(time.Second), 0, 2},
		{"global entry due", t0.Add(2 * time.Minute), 1, 1},
		{"everything due", t0.Add(widget.MaxTTL + time.Second), 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Prune(tc.now); got != tc.removed || s.Len() != tc.left {
				t.Fatalf("Prune = %d, Len = %d; want %d, %d", got, s.Len(), tc.removed, tc.left)
			}
		})
	}
}

func TestSetCovers(t *testing.T) {
	var s revoke.Set
	s.Add(revoke.TenantEntry("acme", t0, 0))
	s.Add(revoke.UserEntry("demo", "alice", t0, 0))
	old, _ := revoke.SessionEntry("acme", sid(t, t0.Add(-time.Hour)), 0)
	young, _ := revoke.SessionEntry("acme", sid(t, t0.Add(time.Hour)), 0)
	other, _ := revoke.SessionEntry("demo", sid(t, t0.Add(-time.Hour)), 0)
	cases := []struct {
		name string
		e    revoke.Entry
		want bool
	}{
		{"the entry itself", revoke.TenantEntry("acme", t0, 0), true},
		{"an older version", revoke.UserEntry("demo", "alice", t0.Add(-time.Minute), 0), true},
		{"a newer version", revoke.UserEntry("demo", "alice", t0.Add(time.Minute), 0), false},
		{"a user under the tenant entry", revoke.UserEntry("acme", "bob", t0.Add(-time.Minute), 0), true},
		{"a session created before the tenant entry", old, true},
		{"a session created after it", young, false},
		{"a session of another tenant", other, false},
		{"an all entry", revoke.AllEntry(t0.Add(-time.Hour), 0), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Covers(tc.e); got != tc.want {
				t.Fatalf("Covers(%v) = %v; want %v", tc.e, got, tc.want)
			}
		})
	}
	s.Add(revoke.AllEntry(t0.Add(2*time.Hour), 0))
	if !s.Covers(young) || !s.Covers(other) {
		t.Fatal("a later all entry does not cover every session created before it")
	}
}

func TestRevokedDoesNotAllocate(t *testing.T) {
	s := filledSet(t, 1000)
	c := token.Claims{Tenant: "acme", Subject: "alice", SessionID: sid(t, t0), IssuedAt: t0.Add(time.Hour).Unix()}
	if n := testing.AllocsPerRun(100, func() { s.Revoked(&c) }); n != 0 {
		t.Fatalf("Revoked allocates %v times", n)
	}
	m := revoke.NewMemory(nil, revoke.Limits{})
	if n := testing.AllocsPerRun(100, func() { _, _ = m.IsRevoked(&c) }); n != 0 {
		t.Fatalf("Memory.IsRevoked allocates %v times", n)
	}
}

// filledSet holds n entries of every kind but all, over 100 tenants.
func filledSet(t testing.TB, n int) *revoke.Set {
	var s revoke.Set
	for i := range n {
		tenant := fmt.Sprintf("tenant%d", i%100)
		e, err := revoke.SessionEntry(tenant, sid(t, t0), 0)
		if err != nil {
			t.Fatal(err)
		}
		s.Add(e)
		s.Add(revoke.UserEntry(tenant, fmt.Sprintf("user%d", i), t0, 0))
		if i < 100 {
			s.Add(revoke.TenantEntry(tenant, t0.Add(-time.Hour), 0))
		}
	}
	return &s
}

// BenchmarkIsRevoked measures the check every validation makes, on a store
// holding 100k session and 100k user entries: a token that is not revoked
// (the common case, every lookup misses) and one revoked by its session.
func BenchmarkIsRevoked(b *testing.B) {
	set := filledSet(b, 100_000)
	m := revoke.NewMemory(func() time.Time { return t0 }, revoke.Limits{})
	for _, e := range set.Entries() {
		if err := m.Revoke(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
	live := token.Claims{Tenant: "tenant7", Subject: "alice", SessionID: sid(b, t0), IssuedAt: t0.Add(time.Hour).Unix()}
	revoked := live
	revoked.SessionID = set.Entries()[0].Subject
	revoked.Tenant = set.Entries()[0].Tenant
	b.Run("Set/live", func(b *testing.B) {
		for b.Loop() {
			set.Revoked(&live)
		}
	})
	b.Run("Set/revoked", func(b *testing.B) {
		for b.Loop() {
			set.Revoked(&revoked)
		}
	})
	b.Run("Memory/live", func(b *testing.B) {
		for b.Loop() {
			_, _ = m.IsRevoked(&live)
		}
	})
	b.Run("Memory/live/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = m.IsRevoked(&live)
			}
		})
	})
}

// TestEntryMatches: each kind of entry matches what Set.Revoked would.
func TestEntryMatches(t *testing.T) {
	now := t0
	s := sid(t, now)
	c := &token.Claims{Tenant: "acme", Subject: "alice", SessionID: s, IssuedAt: now.Unix()}
	session, err := revoke.SessionEntry("acme", s, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		e    revoke.Entry
		want bool
	}{
		{"the session", session, true},
		{"another session", func() revoke.Entry { e, _ := revoke.SessionEntry("acme", sid(t, now), 0); return e }(), false},
		{"the session's id in another tenant", func() revoke.Entry { e, _ := revoke.SessionEntry("demo", s, 0); return e }(), false},
		{"the user, after the token", revoke.UserEntry("acme", "alice", now, 0), true},
		{"the user, before the token", revoke.UserEntry("acme", "alice", now.Add(-time.Second), 0), false},
		{"another user", revoke.UserEntry("acme", "bob", now, 0), false},
		{"the tenant", revoke.TenantEntry("acme", now.Add(time.Second), 0), true},
		{"another tenant", revoke.TenantEntry("demo", now.Add(time.Second), 0), false},
		{"all", revoke.AllEntry(now, 0), true},
		{"all, before the token", revoke.AllEntry(now.Add(-time.Second), 0), false},
	} {
		var set revoke.Set
		set.Add(tc.e)
		if got := tc.e.Matches(c); got != tc.want || got != set.Revoked(c) {
			t.Errorf("%s: Matches = %v, Set.Revoked = %v; want %v", tc.name, got, set.Revoked(c), tc.want)
		}
	}
}
