package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/revoke/revoketest"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// TestContract runs the store contract on one server, each case in a
// namespace of its own that looks like an established deployment.
func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	revoketest.Run(t, func(t *testing.T, now func() time.Time) revoke.Store {
		ns := namespace()
		seedMarker(t, c, ns)
		cfg := fast()
		cfg.Namespace, cfg.Now = ns, now
		return start(t, srv, cfg)
	})
}

// TestLayout pins the keys, values and messages described in the package
// documentation: operators read them, and other versions must agree.
func TestLayout(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ns := namespace()
	seedMarker(t, c, ns)
	cfg := fast()
	cfg.Namespace = ns
	r := start(t, srv, cfg)
	l := redis.LayoutOf(ns)
	if l.Entries != "{"+ns+"}:entries" || l.Channel != "{"+ns+"}:events" {
		t.Fatalf("layout %+v", l)
	}

	sub := c.Subscribe(ctx, l.Channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := revoke.UserEntry("a|b", "c/d", now, leeway)
	if err := r.Revoke(ctx, e); err != nil {
		t.Fatal(err)
	}

	field := "user|a%7Cb|c%2Fd"
	if got := redis.Field(e); got != field {
		t.Fatalf("Field = %q; want %q", got, field)
	}
	want := fmt.Sprintf(`{"before":%d,"bms":%d,"expires":%d}`, e.Before.Unix(), e.Before.UnixMilli(), e.Expires.Unix())
	if got := c.HGet(ctx, l.Entries, field).Val(); got != want {
		t.Errorf("HGET %s = %q; want %q", field, got, want)
	}
	if got := c.ZScore(ctx, l.Expiry, field).Val(); int64(got) != e.Expires.Unix() {
		t.Errorf("ZSCORE = %v; want %d", got, e.Expires.Unix())
	}
	if got := c.Get(ctx, l.Version).Val(); got != "1" {
		t.Errorf("version = %q; want 1", got)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		V                    int64
		Field                string
		Before, BMS, Expires int64
	}
	if err := json.Unmarshal([]byte(msg.Payload), &m); err != nil || m.V != 1 || m.Field != field ||
		m.Before != e.Before.Unix() || m.BMS != e.Before.UnixMilli() || m.Expires != e.Expires.Unix() {
		t.Errorf("message %s (%v)", msg.Payload, err)
	}
}

// TestPropagation revokes on one replica and measures how long the other
// takes to refuse the token. The bound is 1s; pub/sub makes it milliseconds.
func TestPropagation(t *testing.T) {
	srv := redistest.Start(t)
	ns := namespace()
	seedMarker(t, client(t, srv), ns)
	cfg := redis.Config{Namespace: ns} // production intervals: pub/sub does the work
	a, b := start(t, srv, cfg), start(t, srv, cfg)
	var took []time.Duration
	for i := range 50 {
		c := tok(t, time.Now())
		if i%2 == 1 { // alternate directions
			a, b = b, a
		}
		if revoked(b, c) {
			t.Fatal("revoked before the revocation")
		}
		begin := time.Now()
		if err := a.Revoke(context.Background(), sessionEntry(t, "acme", c.SessionID)); err != nil {
			t.Fatal(err)
		}
		for !revoked(b, c) { // a tight loop: the figure is reported
			if time.Since(begin) > time.Second {
				t.Fatal("revocation not seen by the other replica within 1s")
			}
			time.Sleep(20 * time.Microsecond)
		}
		took = append(took, time.Since(begin))
	}
	slices.Sort(took)
	t.Logf("revoke on A (script round trip included) → refused on B: median %v, p90 %v, max %v over %d",
		took[len(took)/2], took[len(took)*9/10], took[len(took)-1], len(took))
}

// TestLostWrites plays Redis losing an acknowledged entry while keeping its
// marker (a failover to a lagging replica): the mirrors, which never drop an
// unexpired entry, keep refusing the token and write the entry back.
func TestLostWrites(t *testing.T) {
	cases := []struct {
		name string
		// lose removes the entry; it may set the version back too.
		lose   func(c goredis.UniversalClient, l redis.Layout, field string)
		resync time.Duration
	}{
		{"entry lost, version kept: found by the periodic re-sync", func(c goredis.UniversalClient, l redis.Layout, field string) {
			c.HDel(context.Background(), l.Entries, field)
			c.ZRem(context.Background(), l.Expiry, field)
		}, 300 * time.Millisecond},
		{"entry and version lost: found by the next poll", func(c goredis.UniversalClient, l redis.Layout, field string) {
			c.HDel(context.Background(), l.Entries, field)
			c.ZRem(context.Background(), l.Expiry, field)
			c.Decr(context.Background(), l.Version)
		}, time.Hour},
	}
	srv := redistest.Start(t)
	c := client(t, srv)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := namespace()
			seedMarker(t, c, ns)
			cfg := fast()
			cfg.Namespace, cfg.ResyncInterval = ns, tc.resync
			a, b := start(t, srv, cfg), start(t, srv, cfg)
			tk := tok(t, time.Now())
			e := sessionEntry(t, "acme", tk.SessionID)
			if err := a.Revoke(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			within(t, time.Second, "seen by b", func() bool { return revoked(b, tk) })
			l := redis.LayoutOf(ns)
			tc.lose(c, l, redis.Field(e))
			within(t, 2*time.Second, "entry written back", func() bool {
				return c.HExists(context.Background(), l.Entries, redis.Field(e)).Val()
			})
			if !revoked(a, tk) || !revoked(b, tk) {
				t.Fatal("a mirror dropped the entry")
			}
			if late := start(t, srv, cfg); !revoked(late, tk) {
				t.Fatal("a replica started after the repair does not see the entry")
			}
		})
	}
}

func TestNewRevocationsRejects(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	cases := []struct {
		name   string
		client goredis.UniversalClient
		cfg    redis.Config
	}{
		{"no client", nil, redis.Config{}},
		{"budget not above the poll interval", c, redis.Config{PollInterval: time.Second, StalenessBudget: time.Second}},
		{"default budget below a long poll interval", c, redis.Config{PollInterval: 10 * time.Second}},
		{"braces in the namespace", c, redis.Config{Namespace: "a}b"}},
		{"negative leeway", c, redis.Config{Leeway: -time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := redis.NewRevocations(tc.client, tc.cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestNotStartedOrClosedFailsClosed: a mirror that has not synced, or has
// stopped, cannot vouch for anything.
func TestNotStartedOrClosedFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	r, err := redis.NewRevocations(client(t, srv), fast())
	if err != nil {
		t.Fatal(err)
	}
	c := tok(t, time.Now())
	if _, err := r.IsRevoked(&c); !errors.Is(err, revoke.ErrStale) || !errors.Is(r.Fresh(), revoke.ErrStale) {
		t.Fatalf("before Start: %v, Fresh %v; want ErrStale", err, r.Fresh())
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("second Start: no error")
	}
	c = tok(t, time.Now())
	if _, err := r.IsRevoked(&c); err != nil {
		t.Fatalf("after Start: %v", err)
	}
	if err := r.Fresh(); err != nil {
		t.Fatalf("Fresh after Start: %v", err)
	}
	_ = r.Close()
	if _, err := r.IsRevoked(&c); !errors.Is(err, revoke.ErrStale) || r.Fresh() == nil {
		t.Fatalf("after Close: %v; want ErrStale", err)
	}
}

// BenchmarkMirrorIsRevoked measures the mirror's check on 100k session and
// 100k user entries, loaded from Redis by Start.
func BenchmarkMirrorIsRevoked(b *testing.B) {
	srv := redistest.Start(b)
	c := client(b, srv)
	ctx := context.Background()
	ns := namespace()
	seedMarker(b, c, ns)
	l := redis.LayoutOf(ns)
	now := time.Now()
	var first token.Claims
	for chunk := range 100 {
		p := c.Pipeline()
		for i := range 1000 {
			tenant := "tenant" + strconv.Itoa(i%100)
			s := sessionEntry(b, tenant, newSID(b, now))
			u := revoke.UserEntry(tenant, fmt.Sprintf("user%d-%d", chunk, i), now.Add(-time.Hour), leeway)
			for _, e := range []revoke.Entry{s, u} {
				p.HSet(ctx, l.Entries, redis.Field(e), fmt.Sprintf(`{"before":%d,"expires":%d}`, e.Before.Unix(), e.Expires.Unix()))
				p.ZAdd(ctx, l.Expiry, goredis.Z{Score: float64(e.Expires.Unix()), Member: redis.Field(e)})
			}
			if chunk == 0 && i == 0 {
				first = token.Claims{Tenant: tenant, Subject: "x", SessionID: s.Subject, IssuedAt: now.Unix()}
			}
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	cfg := redis.Config{Namespace: ns}
	begin := time.Now()
	r := start(b, srv, cfg)
	b.Logf("Start loaded %d entries in %v", r.Len(), time.Since(begin))
	live := tok(b, now)
	for _, bc := range []struct {
		name string
		c    token.Claims
	}{{"live", live}, {"revoked", first}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				_, _ = r.IsRevoked(&bc.c)
			}
		})
	}
	b.Run("live/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = r.IsRevoked(&live)
			}
		})
	})
}

// TestRedisPrunes checks that Redis itself drops entries once they are
// past their expiry and the grace: on each write, and on a re-sync when
// nothing is written.
func TestRedisPrunes(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	count := func(l redis.Layout) (int64, int64) { // the marker is a field of the hash, not an entry
		return c.HLen(ctx, l.Entries).Val() - 1, c.ZCard(ctx, l.Expiry).Val()
	}

	t.Run("a write prunes", func(t *testing.T) {
		ns := namespace()
		seedMarker(t, c, ns)
		clk := revoketest.NewClock(time.Now().Truncate(time.Second))
		cfg := fast()
		cfg.Namespace, cfg.Now = ns, clk.Now
		r := start(t, srv, cfg)
		l := redis.LayoutOf(ns)
		now := clk.Now()
		short := sessionEntry(t, "acme", newSID(t, now.Add(-widget.MaxTTL-leeway+2*time.Second))) // expires now+2s
		steps := []struct {
			name    string
			advance time.Duration
			e       revoke.Entry
			want    int64
		}{
			{"short-lived entry", 0, short, 1},
			{"long-lived entry", 0, sessionEntry(t, "acme", newSID(t, now)), 2},
			{"within the grace nothing is pruned", redis.PruneGrace, revoke.UserEntry("acme", "bob", now, leeway), 3},
			{"past it the next write prunes", 3 * time.Second, revoke.UserEntry("acme", "carol", now, leeway), 3},
		}
		for _, st := range steps {
			clk.Advance(st.advance)
			if err := r.Revoke(ctx, st.e); err != nil {
				t.Fatal(err)
			}
			if h, z := count(l); h != st.want || z != st.want {
				t.Fatalf("%s: HLEN %d, ZCARD %d; want %d", st.name, h, z, st.want)
			}
		}
		if c.HExists(ctx, l.Entries, redis.Field(short)).Val() {
			t.Fatal("the expired entry is still there")
		}
	})

	t.Run("a re-sync prunes a quiet Redis", func(t *testing.T) {
		ns := namespace()
		seedMarker(t, c, ns)
		l := redis.LayoutOf(ns)
		e := revoke.TenantEntry("acme", time.Now().Add(-widget.MaxTTL-redis.PruneGrace-time.Hour), leeway)
		c.HSet(ctx, l.Entries, redis.Field(e), fmt.Sprintf(`{"before":%d,"expires":%d}`, e.Before.Unix(), e.Expires.Unix()))
		c.ZAdd(ctx, l.Expiry, goredis.Z{Score: float64(e.Expires.Unix()), Member: redis.Field(e)})
		r := start(t, srv, redis.Config{Namespace: ns})
		if h, z := count(l); h != 0 || z != 0 || r.Len() != 0 {
			t.Fatalf("after Start: HLEN %d, ZCARD %d, mirror %d; want 0", h, z, r.Len())
		}
		if v := c.Get(ctx, l.Version).Val(); v != "" {
			t.Fatalf("pruning bumped the version to %q", v)
		}
	})
}

// TestAcknowledgedMeansReplicated: with a replica required, a revocation
// is acknowledged once the replica has it; with the replica gone, the
// write is applied by the master but not acknowledged (an error wrapping
// ErrNotReplicated and revoke.ErrUnavailable), and a shortfall is counted.
// The service's events and tickets wait the same way (internal/redisstore).
func TestAcknowledgedMeansReplicated(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.StartReplica(t, master)
	c := client(t, master)
	ns := namespace()
	seedMarker(t, c, ns)
	var shortfalls atomic.Int64
	repl := redis.Replication{MinReplicas: 1, Timeout: 200 * time.Millisecond, Shortfall: func(string) { shortfalls.Add(1) }}
	r := start(t, master, redis.Config{Namespace: ns, Replication: repl})
	ctx := context.Background()
	e := revoke.UserEntry("acme", "alice", time.Now(), leeway)
	if err := r.Revoke(ctx, e); err != nil {
		t.Fatalf("Revoke with the replica up: %v", err)
	}
	if got := client(t, replica).HExists(ctx, redis.LayoutOf(ns).Entries, redis.Field(e)).Val(); !got {
		t.Error("acknowledged, but the replica does not hold the entry")
	}
	replica.Stop()
	e2 := revoke.UserEntry("acme", "bob", time.Now(), leeway)
	err := r.Revoke(ctx, e2)
	if !errors.Is(err, redis.ErrNotReplicated) || !errors.Is(err, revoke.ErrUnavailable) {
		t.Fatalf("Revoke without the replica = %v, want ErrNotReplicated and revoke.ErrUnavailable", err)
	}
	if !c.HExists(ctx, redis.LayoutOf(ns).Entries, redis.Field(e2)).Val() {
		t.Error("the master did not apply the unacknowledged write")
	}
	if !revoked(r, token.Claims{Tenant: "acme", Subject: "bob", IssuedAt: time.Now().Add(-time.Minute).Unix()}) {
		t.Error("the mirror does not hold what the master applied")
	}
	if n := shortfalls.Load(); n != 1 {
		t.Errorf("%d shortfalls counted, want 1", n)
	}
}

// TestValuesWithoutBMS: a value or a message written by a replica that
// predates bms ({"before":S,"expires":S}) revokes every token of its
// second, as it did there; a newer write to the same field keeps the later
// of the two cutoffs. A value written now carries both, so that such a
// replica still reads it (as its whole second).
func TestValuesWithoutBMS(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	ns := namespace()
	seedMarker(t, c, ns)
	l := redis.LayoutOf(ns)
	sec := time.Now().Add(-time.Minute).Truncate(time.Second)
	expires := sec.Add(time.Hour).Unix()
	if err := c.HSet(ctx, l.Entries, "user|acme|alice", fmt.Sprintf(`{"before":%d,"expires":%d}`, sec.Unix(), expires)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ZAdd(ctx, l.Expiry, goredis.Z{Score: float64(expires), Member: "user|acme|alice"}).Err(); err != nil {
		t.Fatal(err)
	}
	cfg := fast()
	cfg.Namespace = ns
	r := start(t, srv, cfg)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{{sec.Add(999 * time.Millisecond), true}, {sec.Add(time.Second), false}} {
		claims := tok(t, tc.at)
		if got, err := r.IsRevoked(&claims); err != nil || got != tc.want {
			t.Errorf("a token minted %v into the old entry's second: revoked %v (%v), want %v", tc.at.Sub(sec), got, err, tc.want)
		}
	}

	// A message from such a replica is read the same way.
	bob := tok(t, sec.Add(900*time.Millisecond))
	bob.Subject = "bob"
	if err := c.Publish(ctx, l.Channel, fmt.Sprintf(`{"v":99,"field":"user|acme|bob","before":%d,"expires":%d}`, sec.Unix(), expires)).Err(); err != nil {
		t.Fatal(err)
	}
	within(t, 5*time.Second, "the old message applied", func() bool { got, _ := r.IsRevoked(&bob); return got })

	// An earlier cutoff written now merges into the later one stored.
	if err := r.Revoke(ctx, revoke.UserEntry("acme", "alice", sec.Add(-time.Second), leeway)); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"before":%d,"bms":%d,"expires":`, sec.Unix(), sec.UnixMilli()+999)
	if got := c.HGet(ctx, l.Entries, "user|acme|alice").Val(); !strings.HasPrefix(got, want) {
		t.Errorf("merged value %s, want it to start %s", got, want)
	}
}
