package stream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/events/eventstest"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Every test runs in a synctest bubble: the Hub's timers run on a fake
// clock, and synctest.Wait lets everything that can happen happen before
// the test looks.

// countingLog wraps a real log: it counts reads, its reads can fail, and
// it keeps the wake-up functions so a test can play a re-subscription.
type countingLog struct {
	events.Log
	ranges   atomic.Int64
	rangeErr atomic.Pointer[error]
	deaf     bool // Notify registers nothing: notifications are lost

	mu    sync.Mutex
	wakes []func()
}

func (l *countingLog) Range(ctx context.Context, sid, after string, limit int) ([]events.Event, error) {
	l.ranges.Add(1)
	if err := l.rangeErr.Load(); err != nil {
		return nil, *err
	}
	return l.Log.Range(ctx, sid, after, limit)
}

func (l *countingLog) Notify(sid string, wake func()) func() {
	l.mu.Lock()
	l.wakes = append(l.wakes, wake)
	l.mu.Unlock()
	if l.deaf {
		return func() {}
	}
	return l.Log.Notify(sid, wake)
}

// wakeAll plays what a re-established Redis subscription does.
func (l *countingLog) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.wakes {
		w()
	}
}

func (l *countingLog) failReads(err error) { l.rangeErr.Store(&err) }

// revs is a revocation store whose freshness a test sets.
type revs struct {
	*revoke.Memory
	stale atomic.Bool
}

func (r *revs) Fresh() error {
	if r.stale.Load() {
		return revoke.ErrStale
	}
	return nil
}

func (r *revs) IsRevoked(c *token.Claims) (bool, error) {
	if ok, _ := r.Memory.IsRevoked(c); ok {
		return true, nil
	}
	return false, r.Fresh()
}

type fixture struct {
	t    *testing.T
	log  *countingLog
	mem  *events.Memory
	revs *revs
	hub  *stream.Hub
	exp  time.Time
}

func newFixture(t *testing.T, cfg stream.Config, maxLen int) *fixture {
	t.Helper()
	mem, err := events.NewMemory(events.MemoryOptions{MaxLen: maxLen})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, mem: mem, log: &countingLog{Log: mem}, revs: &revs{Memory: revoke.NewMemory(time.Now, revoke.Limits{})}, exp: time.Now().Add(time.Hour)}
	f.hub, err = stream.NewHub(f.log, f.revs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.hub.Close)
	return f
}

func (f *fixture) append(sid string, n int) []events.Event {
	f.t.Helper()
	var out []events.Event
	for i := range n {
		e, err := f.mem.Append(context.Background(), sid, events.ResponseDelta, eventstest.Payload(i), f.exp)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// claims of session sid of user in tenant, ending at exp.
func claims(tenant, user, sid string, exp time.Time) *token.Claims {
	return &token.Claims{Tenant: tenant, Subject: user, SessionID: sid, ID: sid, IssuedAt: time.Now().Unix() - 1, Expiry: exp.Unix()}
}

// reader reads a stream in a goroutine of the bubble and records it.
type reader struct {
	st     *stream.Stream
	cancel context.CancelFunc

	mu        sync.Mutex
	got       []events.Event
	pings     int
	end       *stream.End
	reconnect time.Duration
	done      bool
}

func (f *fixture) open(c *token.Claims, after, client string) *reader {
	f.t.Helper()
	st, err := f.hub.Open(context.Background(), stream.Request{Claims: c, After: after, Client: client})
	if err != nil {
		f.t.Fatalf("Open: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &reader{st: st, cancel: cancel}
	go func() {
		defer st.Close()
		for {
			b, err := st.Next(ctx)
			r.mu.Lock()
			if err != nil {
				r.done = true
				r.mu.Unlock()
				return
			}
			r.got = append(r.got, b.Events...)
			if b.Ping {
				r.pings++
			}
			if b.End != nil || b.Reconnect > 0 {
				r.end, r.reconnect, r.done = b.End, b.Reconnect, true
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
		}
	}()
	f.t.Cleanup(cancel)
	return r
}

func (r *reader) state() (got []events.Event, pings int, end *stream.End, done bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.got...), r.pings, r.end, r.done
}

func sameIDs(t *testing.T, what string, got, want []events.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events; want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Type != want[i].Type || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("%s: event %d is %s %s %s; want %s %s %s", what, i, got[i].ID, got[i].Type, got[i].Data, want[i].ID, want[i].Type, want[i].Data)
		}
	}
}

func sid(t *testing.T) string { return eventstest.SID(t) }

// TestOneReadPerWakeUp: the streams of a session share one follower, which
// reads the log once per wake-up whatever their number; a backlog of
// several pages arrives whole and in order.
func TestOneReadPerWakeUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{}, 0)
		s := sid(t)
		backlog := f.append(s, 600)
		c := claims("acme", "u1", s, f.exp)
		var rs []*reader
		for range 5 {
			rs = append(rs, f.open(c, "", "client"))
		}
		synctest.Wait()
		for i, r := range rs {
			got, _, _, _ := r.state()
			sameIDs(t, fmt.Sprintf("stream %d, the backlog", i), got, backlog)
		}
		before := f.log.ranges.Load()
		all := append(backlog, f.append(s, 1)...)
		synctest.Wait()
		for i, r := range rs {
			got, _, _, _ := r.state()
			sameIDs(t, fmt.Sprintf("stream %d, live", i), got, all)
		}
		if n := f.log.ranges.Load() - before; n != 1 {
			t.Fatalf("one append read the log %d times for 5 streams; want once", n)
		}
		// Idle: nothing reads anything, however long.
		before = f.log.ranges.Load()
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n := f.log.ranges.Load() - before; n != 0 {
			t.Fatalf("idle streams read the log %d times in 10 minutes; want none", n)
		}
	})
}

// TestResume: a stream resumes after any id, exactly; one whose id the log
// no longer holds starts with stream.reset, then the whole log as held.
func TestResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{}, 5)
		s := sid(t)
		all := f.append(s, 12) // the cap is 5: 7..11 held, 6 the last trimmed
		reset := events.Event{Type: events.StreamReset, Data: []byte(`{"oldestId":"` + all[7].ID + `"}`)}
		c := claims("acme", "u1", s, f.exp)
		for _, tc := range []struct {
			after string
			want  []events.Event
		}{
			{all[1].ID, append([]events.Event{reset}, all[7:]...)},
			{all[6].ID, all[7:]},
			{all[9].ID, all[10:]},
			{all[11].ID, nil},
		} {
			r := f.open(c, tc.after, "client")
			synctest.Wait()
			got, _, _, _ := r.state()
			sameIDs(t, "after "+tc.after, got, tc.want)
			r.cancel()
			synctest.Wait()
		}
	})
}

// TestLateAndSlowStreams: a stream that joins with an older id than the
// follower holds, and one that does not read while hundreds of events go
// by, each get every event exactly once, in order.
func TestLateAndSlowStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{}, 5000)
		s := sid(t)
		c := claims("acme", "u1", s, f.exp)
		first := f.open(c, "", "client")
		all := f.append(s, 10)
		synctest.Wait()
		late := f.open(c, "", "client") // from the start, after the follower dropped it
		synctest.Wait()
		got, _, _, _ := late.state()
		sameIDs(t, "late stream", got, all)

		// A slow stream: its Next is not called while 1500 events go by.
		slow, err := f.hub.Open(context.Background(), stream.Request{Claims: c, After: all[9].ID, Client: "client"})
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		more := f.append(s, 1500)
		synctest.Wait()
		all = append(all, more...)
		got, _, _, _ = first.state()
		sameIDs(t, "the first stream", got, all)
		var slowGot []events.Event
		for len(slowGot) < len(more) {
			b, err := slow.Next(context.Background())
			if err != nil || b.End != nil {
				t.Fatalf("slow stream: %v %v", err, b.End)
			}
			slowGot = append(slowGot, b.Events...)
		}
		sameIDs(t, "the slow stream", slowGot, more)
	})
}

// TestLostNotifications: no stream polls; a re-established subscription
// (which wakes every follower) makes good what was lost.
func TestLostNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{}, 0)
		f.log.deaf = true
		s := sid(t)
		r := f.open(claims("acme", "u1", s, f.exp), "", "client")
		synctest.Wait()
		evs := f.append(s, 3)
		time.Sleep(time.Hour / 2)
		synctest.Wait()
		if got, _, _, _ := r.state(); len(got) != 0 {
			t.Fatalf("a deaf follower got %d events", len(got))
		}
		f.log.wakeAll()
		synctest.Wait()
		got, _, _, _ := r.state()
		sameIDs(t, "after the re-subscription", got, evs)
	})
}

// TestReadFailures: an unavailable log is retried on the liveness tick,
// the stream going on; any other read error ends it with
// stream_interrupted.
func TestReadFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{Liveness: time.Second}, 0)
		s := sid(t)
		r := f.open(claims("acme", "u1", s, f.exp), "", "client")
		synctest.Wait()
		f.log.failReads(fmt.Errorf("%w: connection refused", events.ErrUnavailable))
		evs := f.append(s, 2)
		synctest.Wait()
		if got, _, _, done := r.state(); len(got) != 0 || done {
			t.Fatalf("while the log is down: %d events, done %v", len(got), done)
		}
		f.log.rangeErr.Store(nil)
		time.Sleep(time.Second)
		synctest.Wait()
		got, _, _, _ := r.state()
		sameIDs(t, "retried on the liveness tick", got, evs)

		f.log.failReads(errors.New("malformed event"))
		f.append(s, 1)
		synctest.Wait()
		if _, _, end, done := r.state(); !done || end == nil || end.Code != stream.EndInterrupted {
			t.Fatalf("after a malformed read: done %v, end %+v; want %s", done, end, stream.EndInterrupted)
		}
	})
}

// TestExpiry: each stream ends with session_expired when its session's
// token expires, on the Hub's one timer, and not before.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{}, 0)
		now := time.Now()
		soon, later := now.Add(10*time.Minute), now.Add(20*time.Minute)
		a := f.open(claims("acme", "u1", sid(t), later), "", "client")
		b := f.open(claims("acme", "u2", sid(t), soon), "", "client") // earlier, opened second: re-arms
		time.Sleep(10*time.Minute - time.Second)
		synctest.Wait()
		if _, _, _, done := b.state(); done {
			t.Fatal("a stream ended before its session expired")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, _, end, _ := b.state(); end == nil || end.Code != stream.EndExpired {
			t.Fatalf("at its expiry: end %+v; want %s", end, stream.EndExpired)
		}
		if _, _, _, done := a.state(); done {
			t.Fatal("the later session's stream ended with the earlier")
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if _, _, end, _ := a.state(); end == nil || end.Code != stream.EndExpired {
			t.Fatalf("at its expiry: end %+v; want %s", end, stream.EndExpired)
		}
		if n := f.hub.Streams(); n != 0 {
			t.Fatalf("%d streams still counted", n)
		}
		// A stream of a session already expired ends at once.
		c := f.open(claims("acme", "u3", sid(t), time.Now().Add(-time.Second)), "", "client")
		synctest.Wait()
		if _, _, end, _ := c.state(); end == nil || end.Code != stream.EndExpired {
			t.Fatalf("an expired session: end %+v", end)
		}
	})
}

// TestRevocationIsPushed: a revocation ends the streams it matches at
// once (no tick), and only those.
func TestRevocationIsPushed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{Liveness: time.Hour}, 0)
		s1, s2, s3, s4 := sid(t), sid(t), sid(t), sid(t)
		r1 := f.open(claims("acme", "ann", s1, f.exp), "", "c")
		r1b := f.open(claims("acme", "ann", s1, f.exp), "", "c")
		r2 := f.open(claims("acme", "ann", s2, f.exp), "", "c")
		r3 := f.open(claims("acme", "bob", s3, f.exp), "", "c")
		r4 := f.open(claims("other", "bob", s4, f.exp), "", "c")
		synctest.Wait()
		ended := func(rs ...*reader) {
			t.Helper()
			for i, r := range rs {
				if _, _, end, _ := r.state(); end == nil || end.Code != stream.EndRevoked {
					t.Fatalf("stream %d: end %+v; want %s", i, end, stream.EndRevoked)
				}
			}
		}
		open := func(rs ...*reader) {
			t.Helper()
			for i, r := range rs {
				if _, _, _, done := r.state(); done {
					t.Fatalf("stream %d ended", i)
				}
			}
		}
		e, err := revoke.SessionEntry("acme", s1, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.revs.Revoke(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ended(r1, r1b)
		open(r2, r3, r4)
		time.Sleep(time.Second) // tokens issued before now
		if err := f.revs.Revoke(context.Background(), revoke.UserEntry("acme", "ann", time.Now(), time.Second)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ended(r2)
		open(r3, r4)
		if err := f.revs.Revoke(context.Background(), revoke.TenantEntry("acme", time.Now(), time.Second)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		ended(r3)
		open(r4)
		// A stream of a revoked session ends at once.
		again := f.open(claims("acme", "ann", s1, f.exp), "", "c")
		synctest.Wait()
		ended(again)
	})
}

// TestUnknownRevocationState: when the store cannot vouch it is current,
// every stream ends with revocation_unknown on the next liveness tick
// (fail closed).
func TestUnknownRevocationState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{Liveness: time.Second}, 0)
		rs := []*reader{f.open(claims("acme", "a", sid(t), f.exp), "", "c"), f.open(claims("zeta", "b", sid(t), f.exp), "", "c")}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		f.revs.stale.Store(true)
		time.Sleep(time.Second)
		synctest.Wait()
		for i, r := range rs {
			if _, _, end, _ := r.state(); end == nil || end.Code != stream.EndRevocationUnknown {
				t.Fatalf("stream %d: end %+v; want %s", i, end, stream.EndRevocationUnknown)
			}
		}
	})
}

// TestHeartbeat: every stream is pinged each Heartbeat by the Hub's one
// ticker.
func TestHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{Heartbeat: 15 * time.Second}, 0)
		rs := []*reader{f.open(claims("acme", "a", sid(t), f.exp), "", "c"), f.open(claims("acme", "b", sid(t), f.exp), "", "c")}
		time.Sleep(time.Minute)
		synctest.Wait()
		for i, r := range rs {
			if _, pings, _, _ := r.state(); pings != 4 {
				t.Fatalf("stream %d: %d pings in a minute; want 4", i, pings)
			}
		}
	})
}

// TestBounds: at most MaxPerSession streams per session and MaxPerClient
// per client address; a closed stream gives its place back.
func TestBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{MaxPerSession: 2, MaxPerClient: 3}, 0)
		s1, s2 := sid(t), sid(t)
		c1, c2 := claims("acme", "a", s1, f.exp), claims("acme", "a", s2, f.exp)
		a := f.open(c1, "", "10.0.0.1")
		f.open(c1, "", "10.0.0.2")
		tooMany := func(c *token.Claims, client string) {
			t.Helper()
			_, err := f.hub.Open(context.Background(), stream.Request{Claims: c, Client: client})
			var we *widget.Error
			if !errors.As(err, &we) || we.Code != widget.CodeTooManyStreams || we.RetryAfter <= 0 {
				t.Fatalf("Open past a bound = %v; want %s with Retry-After", err, widget.CodeTooManyStreams)
			}
		}
		tooMany(c1, "10.0.0.3")
		f.open(c2, "", "10.0.0.1")
		f.open(c2, "", "10.0.0.1")
		tooMany(c2, "10.0.0.1") // the session's bound
		a.cancel()
		synctest.Wait()
		f.open(c1, "", "10.0.0.1") // a's place
		s3 := claims("acme", "a", sid(t), f.exp)
		tooMany(s3, "10.0.0.1") // the client's bound: 3
		f.open(s3, "", "10.0.0.9")
		if n := f.hub.Streams(); n != 5 {
			t.Fatalf("%d streams counted; want 5", n)
		}
		// A stream whose client left (as its probe tells) does not hold a
		// place: the bound evicts it, with a final event, and admits the
		// newcomer.
		gone := f.open(s3, "", "10.0.0.7")
		gone.st.SetProbe(func() bool { return false })
		f.open(s3, "", "10.0.0.8") // the session's third, past its bound of 2
		synctest.Wait()
		if _, _, end, done := gone.state(); !done || end == nil || end.Code != stream.EndInterrupted {
			t.Fatalf("the departed stream: done %v, end %+v", done, end)
		}
	})
}

// TestBoundsIPv6: IPv6 clients are bounded by their /64, which one
// subscriber holds whole; IPv4 (and IPv4-mapped) addresses each by itself.
func TestBoundsIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{MaxPerSession: 100, MaxPerClient: 2}, 0)
		s := claims("acme", "a", sid(t), f.exp)
		f.open(s, "", "2001:db8:1:2::1")
		f.open(s, "", "2001:db8:1:2:ffff:ffff:ffff:ffff")
		_, err := f.hub.Open(context.Background(), stream.Request{Claims: s, Client: "2001:db8:1:2:abcd::9"})
		var we *widget.Error
		if !errors.As(err, &we) || we.Code != widget.CodeTooManyStreams {
			t.Fatalf("a third address of the same /64: %v; want %s", err, widget.CodeTooManyStreams)
		}
		f.open(s, "", "2001:db8:1:3::1") // the next /64 is another client
		f.open(s, "", "10.0.0.1")
		f.open(s, "", "::ffff:10.0.0.1")
		if _, err := f.hub.Open(context.Background(), stream.Request{Claims: s, Client: "10.0.0.1"}); !errors.As(err, &we) {
			t.Fatalf("an IPv4 address and its mapped form are one client: %v", err)
		}
	})
	for in, want := range map[string]string{
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "fe80::1%eth0": "fe80::/64",
		"10.1.2.3": "10.1.2.3", "::ffff:10.1.2.3": "10.1.2.3", "not an ip": "not an ip",
	} {
		if got := stream.ClientGroup(in); got != want {
			t.Errorf("ClientGroup(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDrain: a draining replica asks every stream, and every stream opened
// since, to reconnect.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, stream.Config{}, 0)
		r := f.open(claims("acme", "a", sid(t), f.exp), "", "c")
		synctest.Wait()
		f.hub.Drain()
		late := f.open(claims("acme", "b", sid(t), f.exp), "", "c")
		synctest.Wait()
		for i, r := range []*reader{r, late} {
			r.mu.Lock()
			reconnect, done := r.reconnect, r.done
			r.mu.Unlock()
			if !done || reconnect != stream.Reconnect {
				t.Fatalf("stream %d: done %v, reconnect %v; want %v", i, done, reconnect, stream.Reconnect)
			}
		}
	})
}

// TestOnClose: each stream, once closed, is reported once with how it
// ended: its end code, "drained", or "closed" when the client went first.
func TestOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var reasons []string
		f := newFixture(t, stream.Config{OnClose: func(r string) {
			mu.Lock()
			reasons = append(reasons, r)
			mu.Unlock()
		}}, 0)
		revoked, expiring, left := sid(t), sid(t), sid(t)
		f.open(claims("acme", "a", revoked, f.exp), "", "c")
		f.open(claims("acme", "b", expiring, time.Now().Add(time.Minute)), "", "c")
		gone := f.open(claims("acme", "c", left, f.exp), "", "c")
		synctest.Wait()
		e, err := revoke.SessionEntry("acme", revoked, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.revs.Revoke(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		gone.cancel() // the client goes away
		synctest.Wait()
		drained := f.open(claims("acme", "d", sid(t), f.exp), "", "c")
		f.hub.Drain()
		synctest.Wait()
		drained.st.Close() // a second Close reports nothing more
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(reasons)
		if want := []string{"closed", "drained", stream.EndExpired, stream.EndRevoked}; !slices.Equal(reasons, want) {
			t.Errorf("OnClose reasons %q, want %q", reasons, want)
		}
	})
}
