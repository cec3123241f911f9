//go:build regions

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/etcd"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// stalenessBudget is WIDGET_REVOCATION_STALENESS in the regions: it exceeds an
// election (500 ms) with room for its vote and a poll.
const stalenessBudget = 5 * time.Second

// probe is a request the test's goroutines make, with no testing.T: a
// region may be cut off or dead, and the answer is data, not a failure.
var probe = &http.Client{Timeout: 2 * time.Second}

// introspection is one answer of POST /v1/widget/tokens/introspect.
type introspection struct {
	status int
	active bool
	code   string
	err    error
}

func introspectRaw(base, service, tok string) introspection {
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/widget/tokens/introspect", strings.NewReader("token="+url.QueryEscape(tok)))
	req.Header.Set("Authorization", "Bearer "+service)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := probe.Do(req)
	if err != nil {
		return introspection{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct {
		Active bool
		Code   string
	}
	_ = json.Unmarshal(b, &v)
	return introspection{status: resp.StatusCode, active: resp.StatusCode == 200 && v.Active, code: v.Code}
}

// revoked is a revocation acknowledged (204) at a time.
type revoked struct {
	token  string
	origin string
	at     time.Time
}

// checker holds the property the regions promise throughout: no region
// answers active for a token that a 204 given at time t matched, after t
// plus the budget. It asks every region about every revocation of the
// last minute, over and over, until stopped.
type checker struct {
	mu         sync.Mutex
	revoked    []revoked
	violations []string
	checks     int
}

func (c *checker) add(r revoked) {
	c.mu.Lock()
	c.revoked = append(c.revoked, r)
	c.mu.Unlock()
}

func (c *checker) run(ctx context.Context, regions []*region, service string) {
	for ctx.Err() == nil {
		c.mu.Lock()
		now := time.Now()
		var due []revoked
		for _, r := range c.revoked {
			if now.After(r.at.Add(stalenessBudget)) && now.Before(r.at.Add(time.Minute)) {
				due = append(due, r)
			}
		}
		c.mu.Unlock()
		for _, reg := range regions {
			for _, r := range due {
				if ctx.Err() != nil {
					return
				}
				got := introspectRaw(reg.public, service, r.token)
				c.mu.Lock()
				c.checks++
				if got.active {
					c.violations = append(c.violations, fmt.Sprintf("%s answered active %v after the 204 in %s", reg.name, time.Since(r.at).Round(time.Millisecond), r.origin))
				}
				c.mu.Unlock()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// windows records, for a probe repeated every few milliseconds, the
// longest run of failures (a 503, or no answer).
type windows struct {
	mu      sync.Mutex
	start   time.Time // of the current run, zero when answering
	longest time.Duration
	count   int
}

func (w *windows) observe(ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	switch {
	case !ok && w.start.IsZero():
		w.start = now
		w.count++
	case ok && !w.start.IsZero():
		w.longest = max(w.longest, now.Sub(w.start))
		w.start = time.Time{}
	}
}

func (w *windows) result() (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	longest := w.longest
	if !w.start.IsZero() {
		longest = max(longest, time.Since(w.start))
	}
	return longest, w.count
}

// watchAvailability introspects tok (active) in each region every 10 ms
// until ctx ends, and returns each region's record of unavailability.
func watchAvailability(ctx context.Context, regions []*region, service, tok string) map[string]*windows {
	out := map[string]*windows{}
	for _, r := range regions {
		w := &windows{}
		out[r.name] = w
		go func() {
			for ctx.Err() == nil {
				got := introspectRaw(r.public, service, tok)
				w.observe(got.err == nil && got.status == 200 && got.active)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	return out
}

// except is regions but r.
func except(regions []*region, r *region) []*region {
	var out []*region
	for _, o := range regions {
		if o != r {
			out = append(out, o)
		}
	}
	return out
}

// percentile is the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// TestRegions: the six properties of docs/multi-region.md, in three
// regions on this machine, with a checker running throughout.
func TestRegions(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("make test-regions runs as root: it makes network namespaces")
	}
	regions := setupNetwork(t, []string{"eu", "us", "ap"})
	serviceBin, memberBin := buildBinaries(t, t.TempDir())
	var initial []string
	for _, r := range regions {
		r.peerProxy = newDelayProxy(t, r.ip+":2380")
		initial = append(initial, r.memberName+"=http://"+r.peerProxy.addr())
	}
	for _, r := range regions {
		r.startMember(t, memberBin, strings.Join(initial, ","), "new")
	}
	for _, r := range regions {
		r.waitMember(t)
	}
	c := newCluster(t, "", nil)
	serviceEnv := func(r *region) map[string]string {
		// The region's replicas talk to their region's member alone: it
		// carries the cross-region work (raft), and a read it serves is
		// linearizable all the same (ReadIndex through the leader).
		endpoints := []string{"127.0.0.1:2379"}
		env := map[string]string{
			"WIDGET_ADDR": "0.0.0.0:8080", "WIDGET_INTERNAL_ADDR": "0.0.0.0:9090", "WIDGET_SHUTDOWN_TIMEOUT": "5s",
			"WIDGET_REGION": r.name, "WIDGET_REVOCATION_ETCD": "etcd://" + strings.Join(endpoints, ","),
			"WIDGET_REVOCATION_STALENESS": stalenessBudget.String(),
			"WIDGET_REDIS_URL":            "redis://127.0.0.1:6379", "WIDGET_REDIS_MIN_REPLICAS": "1",
			"WIDGET_REVOCATION_RATE_LIMIT": "100000", "WIDGET_MINT_RATE_LIMIT": "100000",
		}
		for _, k := range []string{"WIDGET_SIGNING_KEYS", "WIDGET_SIGNING_KID", "WIDGET_DEV_IDP_KEY"} {
			env[k] = c.env[k]
		}
		return env
	}
	servers := map[string]*testServer{}
	for _, r := range regions {
		r.startRedis(t)
		r.startService(t, serviceBin, serviceEnv(r))
		servers[r.name] = &testServer{public: r.public, internal: r.internal, log: newLogBuffer(), client: &http.Client{Timeout: 10 * time.Second}}
	}
	ready := func(r *region) {
		t.Helper()
		wait.Within(t, 30*time.Second, r.name+": the service ready", func() bool {
			resp, err := probe.Get(r.internal + "/readyz")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil && resp.StatusCode == 200 || r.service.exited()
		}, r.service.out.String)
		if r.service.exited() {
			t.Fatalf("%s: the service exited:\n%s", r.name, r.service.out.String())
		}
	}
	for _, r := range regions {
		ready(r)
	}
	eu, ap := regions[0], regions[2]
	admin, service := c.caller(t, "demo", "admin"), c.caller(t, "causeflow", "service")
	// Each region's Redis has its replica before the writes that wait for
	// it (WIDGET_REDIS_MIN_REPLICAS=1).
	writable := func(r *region) {
		t.Helper()
		s := servers[r.name]
		m := s.mintCreated(t, admin, `{"userId":"user_alice"}`)
		wait.Within(t, 20*time.Second, r.name+": Redis with its replica", func() bool {
			return s.do(t, http.MethodPost, s.public+"/v1/widget/sessions/"+m.SessionID+"/stream-tickets", bearer(m.SessionToken), "").status == http.StatusCreated
		})
	}
	for _, r := range regions {
		writable(r)
	}

	// A gateway in each region: the verifier library's etcd mirror
	// (pkg/etcd), on the region's member, as a gateway there runs it.
	gateways := map[string]*etcd.Revocations{}
	for _, r := range regions {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{r.ip + ":2379"}, DialTimeout: 2 * time.Second,
			DialKeepAliveTime: time.Second, DialKeepAliveTimeout: time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.Close() })
		g, err := etcd.New(cli, etcd.Config{Prefix: "/widget-sessions/test/revocations/", StalenessBudget: stalenessBudget})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		gateways[r.name] = g
	}
	claimsOf := func(sid string) *token.Claims {
		now := time.Now()
		return &token.Claims{Tenant: "demo", SessionID: sid, Subject: "user_alice", IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix()}
	}

	chk := &checker{}
	ctx, stop := context.WithCancel(context.Background())
	checked := make(chan struct{})
	go func() { defer close(checked); chk.run(ctx, regions, service) }()
	defer func() {
		stop()
		<-checked
	}()
	var report strings.Builder
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		t.Log(line)
		report.WriteString(line + "\n")
	}

	// revoke revokes a session minted in origin through origin, and
	// returns when the 204 came.
	revokeIn := func(origin *region) (tok string, at time.Time) {
		t.Helper()
		s := servers[origin.name]
		m := s.mintCreated(t, admin, `{"userId":"user_alice"}`)
		s.mustRevoke(t, admin, "/v1/widget/sessions/"+m.SessionID)
		at = time.Now()
		chk.add(revoked{token: m.SessionToken, origin: origin.name, at: at})
		return m.SessionToken, at
	}
	// seen waits until every region of in answers tok inactive and
	// returns how long after at each did.
	seen := func(tok string, at time.Time, in ...*region) map[string]time.Duration {
		t.Helper()
		out := map[string]time.Duration{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, r := range in {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := time.Now().Add(15 * time.Second)
				for time.Now().Before(deadline) {
					if got := introspectRaw(r.public, service, tok); got.err == nil && got.status == 200 && !got.active {
						mu.Lock()
						out[r.name] = time.Since(at)
						mu.Unlock()
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
		}
		wg.Wait()
		for _, r := range in {
			if _, ok := out[r.name]; !ok {
				t.Fatalf("%s never answered inactive for a token revoked %v ago", r.name, time.Since(at))
			}
		}
		return out
	}

	// 1, 2. Propagation: 100 revocations, from each region in turn, seen
	// by introspection in the two others; every tenth also ends a stream
	// open in each of the others.
	var lags, streamLags, gatewayLags, writes []time.Duration
	for i := range 100 {
		origin := regions[i%3]
		others := except(regions, origin)
		s := servers[origin.name]
		m := s.mintCreated(t, admin, `{"userId":"user_alice"}`)
		type open struct {
			st *sseStream
		}
		var streams []open
		if i%10 == 0 {
			for _, r := range others {
				o := servers[r.name]
				tk := o.ticket(t, m.SessionID, m.SessionToken)
				streams = append(streams, open{mustOpenStream(t, streamClient(t), o.streamURL(m.SessionID)+"?ticket="+url.QueryEscape(tk), nil)})
			}
		}
		sent := time.Now()
		s.mustRevoke(t, admin, "/v1/widget/sessions/"+m.SessionID)
		at := time.Now()
		writes = append(writes, at.Sub(sent))
		chk.add(revoked{token: m.SessionToken, origin: origin.name, at: at})
		for _, d := range seen(m.SessionToken, at, others...) {
			lags = append(lags, d)
		}
		for _, r := range others {
			g := gateways[r.name]
			deadline := time.Now().Add(10 * time.Second)
			for {
				if revoked, err := g.IsRevoked(claimsOf(m.SessionID)); err == nil && revoked {
					gatewayLags = append(gatewayLags, time.Since(at))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the gateway mirror in %s never held a revocation made in %s", r.name, origin.name)
				}
				time.Sleep(time.Millisecond)
			}
		}
		for _, o := range streams {
			o.st.until(t, 10*time.Second, func(e sseEvent) bool {
				if e.Type == "error" && strings.Contains(e.Data, "session_revoked") {
					streamLags = append(streamLags, time.Since(at))
					return true
				}
				return false
			})
		}
	}
	p50, p99 := percentile(lags, 0.5), percentile(lags, 0.99)
	say("propagation between regions (introspection, %d): p50 %v, p99 %v, max %v", len(lags), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), percentile(lags, 1).Round(100*time.Microsecond))
	say("streams ended in the other regions (%d): p50 %v, p99 %v", len(streamLags), percentile(streamLags, 0.5).Round(100*time.Microsecond), percentile(streamLags, 0.99).Round(100*time.Microsecond))
	say("gateway mirrors (pkg/etcd) in the other regions (%d): p50 %v, p99 %v", len(gatewayLags), percentile(gatewayLags, 0.5).Round(100*time.Microsecond), percentile(gatewayLags, 0.99).Round(100*time.Microsecond))
	say("a revocation's 204 (committed by a majority of regions, %d): p50 %v, p99 %v", len(writes), percentile(writes, 0.5).Round(100*time.Microsecond), percentile(writes, 0.99).Round(100*time.Microsecond))
	if p99 > time.Second || percentile(streamLags, 0.99) > time.Second || percentile(gatewayLags, 0.99) > time.Second {
		t.Errorf("property 2: a revocation took over 1 s at p99 to hold everywhere")
	}

	// leaderOf is the region whose member leads.
	etcdClient := func(r *region) *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{r.ip + ":2379"}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cli.Close() })
		return cli
	}
	leaderOf := func(via *region) *region {
		t.Helper()
		cli := etcdClient(via)
		var leader *region
		wait.Within(t, 10*time.Second, "a leader", func() bool {
			cctx, cancel := ctxFor(2 * time.Second)
			defer cancel()
			st, err := cli.Status(cctx, via.ip+":2379")
			if err != nil || st.Leader == 0 {
				return false
			}
			ms, err := cli.MemberList(cctx)
			if err != nil {
				return false
			}
			for _, m := range ms.Members {
				for _, r := range regions {
					if m.ID == st.Leader && m.Name == r.memberName {
						leader = r
					}
				}
			}
			return leader != nil
		})
		return leader
	}

	// keepsWorking: in r, minting, validating, revoking and streaming work
	// (waiting out an election), while another region is lost.
	keepsWorking := func(r *region) {
		t.Helper()
		s := servers[r.name]
		m := s.mintCreated(t, admin, `{"userId":"user_bob"}`)
		wait.Within(t, 10*time.Second, r.name+": validating", func() bool {
			got := introspectRaw(r.public, service, m.SessionToken)
			return got.status == 200 && got.active
		})
		st := mustOpenStream(t, streamClient(t), s.streamURL(m.SessionID)+"?ticket="+url.QueryEscape(s.ticket(t, m.SessionID, m.SessionToken)), nil)
		q := s.mustSend(t, m.SessionID, m.SessionToken, "What is the suspected cause?")
		st.until(t, 10*time.Second, replyEnded(t, q))
		var code int
		wait.Within(t, 10*time.Second, r.name+": revoking", func() bool {
			code = s.revoke(t, admin, "/v1/widget/sessions/"+m.SessionID).status
			return code == http.StatusNoContent
		})
		chk.add(revoked{token: m.SessionToken, origin: r.name, at: time.Now()})
	}

	// 3. A region killed: the others keep working; the 503 window is
	// what its loss costs them (an election when it led).
	probeTok := servers["eu"].mintCreated(t, admin, `{"userId":"user_bob"}`).SessionToken
	leader := leaderOf(eu)
	follower := regions[(leader.n)%3] // another region than the leader's
	for _, victim := range []*region{leader, follower} {
		rest := except(regions, victim)
		actx, astop := context.WithCancel(ctx)
		avail := watchAvailability(actx, rest, service, probeTok)
		time.Sleep(200 * time.Millisecond)
		wasLeader := leaderOf(rest[0]) == victim
		victim.service.kill()
		victim.member.kill()
		victim.redis.kill()
		victim.replica.kill()
		for _, r := range rest {
			keepsWorking(r)
		}
		var during []revoked
		for range 5 {
			tok, at := revokeIn(rest[0])
			during = append(during, revoked{token: tok, at: at})
		}
		time.Sleep(time.Second)
		astop()
		for _, r := range rest {
			w, n := avail[r.name].result()
			say("region %s killed (leader: %v): %s unavailable for at most %v (%d windows)", victim.name, wasLeader, r.name, w.Round(time.Millisecond), n)
			if w > stalenessBudget {
				t.Errorf("property 3: %s was unavailable for %v after %s was killed", r.name, w, victim.name)
			}
		}
		// It comes back on its disk: every revocation made meanwhile is
		// there within a second of its service being ready.
		victim.startMember(t, memberBin, strings.Join(initial, ","), "existing")
		victim.waitMember(t)
		victim.startRedis(t)
		victim.startService(t, serviceBin, serviceEnv(victim))
		ready(victim)
		writable(victim)
		back := time.Now()
		for _, d := range during {
			seen(d.token, back, victim)
		}
		say("region %s restarted: every revocation made while it was down held %v after it was ready", victim.name, time.Since(back).Round(time.Millisecond))
	}

	// 4, 5. A region cut off (then the leader's): it fails closed within
	// the stalenessBudget plus a second and never answers 204; the others keep
	// working; healed, it has every revocation made meanwhile within a
	// second.
	leader = leaderOf(eu)
	follower = regions[(leader.n)%3]
	for _, victim := range []*region{follower, leaderOf(eu)} {
		rest := except(regions, victim)
		wasLeader := leaderOf(rest[0]) == victim
		live := servers[victim.name].mintCreated(t, admin, `{"userId":"user_bob"}`)
		actx, astop := context.WithCancel(ctx)
		avail := watchAvailability(actx, rest, service, probeTok)
		victim.cut(t)
		cutAt := time.Now()
		var closedAt time.Time
		wait.Within(t, stalenessBudget+5*time.Second, victim.name+": failing closed", func() bool {
			got := introspectRaw(victim.public, service, live.SessionToken)
			if got.status == http.StatusServiceUnavailable && got.code == "revocation_state_unknown" {
				closedAt = time.Now()
				return true
			}
			return false
		})
		say("region %s cut off (leader: %v): failing closed after %v (budget %v)", victim.name, wasLeader, closedAt.Sub(cutAt).Round(time.Millisecond), stalenessBudget)
		wait.Within(t, stalenessBudget+5*time.Second, victim.name+": its gateway mirror failing closed", func() bool {
			_, err := gateways[victim.name].IsRevoked(claimsOf(live.SessionID))
			return errors.Is(err, revoke.ErrStale)
		})
		say("region %s cut off: its gateway mirror failing closed after %v", victim.name, time.Since(cutAt).Round(time.Millisecond))
		if closedAt.Sub(cutAt) > stalenessBudget+time.Second {
			t.Errorf("property 4: %s took %v to fail closed", victim.name, closedAt.Sub(cutAt))
		}
		if resp, err := probe.Get(victim.internal + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("property 4: %s's /readyz while cut off: %v %v, want 503", victim.name, resp.StatusCode, err)
		} else {
			resp.Body.Close()
		}
		for range 3 {
			if r := servers[victim.name].revoke(t, admin, "/v1/widget/sessions/"+live.SessionID); r.status == http.StatusNoContent {
				t.Errorf("property 4: %s answered 204 to a revocation while cut off", victim.name)
			}
		}
		for _, r := range rest {
			keepsWorking(r)
		}
		var during []revoked
		for range 5 {
			tok, at := revokeIn(rest[0])
			during = append(during, revoked{token: tok, at: at})
		}
		astop()
		for _, r := range rest {
			w, n := avail[r.name].result()
			say("region %s cut off: %s unavailable for at most %v (%d windows)", victim.name, r.name, w.Round(time.Millisecond), n)
			if w > stalenessBudget {
				t.Errorf("property 3: %s was unavailable for %v while %s was cut off", r.name, w, victim.name)
			}
		}
		victim.heal(t)
		healed := time.Now()
		var catchUp time.Duration
		for _, d := range during {
			catchUp = max(catchUp, seen(d.token, healed, victim)[victim.name])
		}
		say("region %s healed: every revocation made meanwhile held after %v", victim.name, catchUp.Round(time.Millisecond))
		if catchUp > time.Second {
			t.Errorf("property 5: %s took %v to catch up after healing", victim.name, catchUp)
		}
		ready(victim)
	}

	// A member wiped and rejoined: removed, added back empty, it catches
	// up from the others; its region kept serving through the others.
	wiped := ap
	admin0 := etcdClient(eu)
	wiped.member.kill()
	if err := os.RemoveAll(filepath.Join(wiped.dir, "etcd")); err != nil {
		t.Fatal(err)
	}
	// etcd refuses a reconfiguration until every member has been
	// connected for a while (strict reconfiguration check): retried.
	var removed, added bool
	wait.Within(t, 30*time.Second, "the wiped member removed and added back", func() bool {
		cctx, cancel := ctxFor(5 * time.Second)
		defer cancel()
		ms, err := admin0.MemberList(cctx)
		if err != nil {
			return false
		}
		for _, m := range ms.Members {
			if m.Name == wiped.memberName && !removed {
				if _, err := admin0.MemberRemove(cctx, m.ID); err != nil {
					return false
				}
				removed = true
			}
		}
		removed = true
		if !added {
			if _, err := admin0.MemberAdd(cctx, []string{"http://" + wiped.peerProxy.addr()}); err != nil {
				return false
			}
			added = true
		}
		return true
	})
	tok, at := revokeIn(eu)
	wiped.startMember(t, memberBin, strings.Join(initial, ","), "existing")
	wiped.waitMember(t)
	seen(tok, at, wiped)
	local, err := clientv3.New(clientv3.Config{Endpoints: []string{wiped.ip + ":2379"}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	wait.Within(t, 10*time.Second, "the wiped member caught up", func() bool {
		c1, cancel := ctxFor(2 * time.Second)
		defer cancel()
		a, err1 := admin0.Get(c1, "/widget-sessions/test/revocations/version")
		b, err2 := local.Get(c1, "/widget-sessions/test/revocations/version", clientv3.WithSerializable())
		return err1 == nil && err2 == nil && len(a.Kvs) == 1 && len(b.Kvs) == 1 && string(a.Kvs[0].Value) == string(b.Kvs[0].Value)
	})
	say("member %s wiped and rejoined: caught up", wiped.memberName)

	stop()
	<-checked
	chk.mu.Lock()
	say("checker: %d checks of %d revocations across the regions, %d violations", chk.checks, len(chk.revoked), len(chk.violations))
	for _, v := range chk.violations {
		t.Errorf("property 1/4: %s", v)
	}
	chk.mu.Unlock()
	writeArtifact(t, "regions.txt", []byte(report.String()))
}
