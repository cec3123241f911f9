//go:build regions

package main

// The machine as three regions (make test-regions, as root): each region
// a network namespace holding an etcd member, a Redis with a replica and a
// service replica. The regions reach each other over a bridge: every
// member advertises its peer URL at a proxy of its own, in the root
// namespace on the bridge, which delays every byte by oneWay in each
// direction (tc netem is not available here), so that any two members are
// a 2×oneWay round trip apart. Cutting a region takes its side of its
// bridge link down: it reaches no other region (its connections fail at
// once) and none reaches it. The test reaches each region's service over a
// link of its own that is never cut, as the region's own users would, and
// the members over the bridge.

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/causeflow/widget-sessions/internal/wait"
)

const (
	bridgeName = "wsrbr"
	bridgeIP   = "10.77.0.254" // the root namespace's: the proxies' and the test's
	// oneWay is the delay the proxies add to every byte in each
	// direction: a round trip of 50 ms between any two regions.
	oneWay = 25 * time.Millisecond
	// The raft tuning for that round trip (docs/multi-region.md):
	// heartbeat about the round trip, election ten times it.
	tickMs, electionMs = 50, 500
)

// ipRun runs ip with args, failing the test on an error.
func ipRun(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ipQuiet runs ip with args, ignoring failures (cleanup of what may not
// exist).
func ipQuiet(args ...string) { _ = exec.Command("ip", args...).Run() }

// region is one region: its namespace, its addresses and its processes.
type region struct {
	name     string
	n        int    // 1, 2, 3
	ns       string // the network namespace
	ip       string // on the bridge: 10.77.0.n
	clientIP string // on the test's own link: 10.78.n.2
	dir      string
	link     string // the region's side of its bridge link: what a cut takes down

	member, redis, replica, service *proc
	memberName                      string
	peerProxy                       *delayProxy // where the other members reach this one

	public, internal string // the service, over the test's link
}

// proc is a process running in a region's namespace; out is what it
// printed (the servers' logBuffer).
type proc struct {
	cmd  *exec.Cmd
	out  *logBuffer
	done chan struct{}
}

// start runs name with args (and env, when not nil) in the region's
// namespace.
func (r *region) start(t testing.TB, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", r.ns, name}, args...)...)
	p := &proc{cmd: cmd, out: newLogBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: starting %s: %v", r.name, name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	return p
}

// kill stops the process at once, as a region's loss would.
func (p *proc) kill() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// setupNetwork makes the bridge and the three namespaces, each with its
// bridge link and the test's link, and removes them when the test ends.
func setupNetwork(t testing.TB, names []string) []*region {
	t.Helper()
	teardown := func() {
		for i := range names {
			ipQuiet("netns", "del", fmt.Sprintf("wsr-%d", i+1))
			ipQuiet("link", "del", fmt.Sprintf("wsc%do", i+1))
			ipQuiet("link", "del", fmt.Sprintf("wsr%do", i+1))
		}
		ipQuiet("link", "del", bridgeName)
	}
	teardown() // what a killed run left
	t.Cleanup(teardown)
	ipRun(t, "link", "add", bridgeName, "type", "bridge")
	ipRun(t, "addr", "add", bridgeIP+"/24", "dev", bridgeName)
	ipRun(t, "link", "set", bridgeName, "up")
	var regions []*region
	for i, name := range names {
		n := i + 1
		r := &region{name: name, n: n, ns: fmt.Sprintf("wsr-%d", n), ip: fmt.Sprintf("10.77.0.%d", n),
			clientIP: fmt.Sprintf("10.78.%d.2", n), dir: t.TempDir(), link: fmt.Sprintf("wsr%di", n), memberName: "m-" + name}
		ipRun(t, "netns", "add", r.ns)
		ipRun(t, "-n", r.ns, "link", "set", "lo", "up")
		// The bridge link, whose region side a cut takes down.
		in, out := r.link, fmt.Sprintf("wsr%do", n)
		ipRun(t, "link", "add", out, "type", "veth", "peer", "name", in)
		ipRun(t, "link", "set", in, "netns", r.ns)
		ipRun(t, "link", "set", out, "master", bridgeName, "up")
		ipRun(t, "-n", r.ns, "addr", "add", r.ip+"/24", "dev", in)
		ipRun(t, "-n", r.ns, "link", "set", in, "up")
		// The test's own link to the region, never cut.
		cout, cin := fmt.Sprintf("wsc%do", n), fmt.Sprintf("wsc%di", n)
		ipRun(t, "link", "add", cout, "type", "veth", "peer", "name", cin)
		ipRun(t, "link", "set", cin, "netns", r.ns)
		ipRun(t, "addr", "add", fmt.Sprintf("10.78.%d.1/30", n), "dev", cout)
		ipRun(t, "link", "set", cout, "up")
		ipRun(t, "-n", r.ns, "addr", "add", r.clientIP+"/30", "dev", cin)
		ipRun(t, "-n", r.ns, "link", "set", cin, "up")
		r.public, r.internal = "http://"+r.clientIP+":8080", "http://"+r.clientIP+":9090"
		regions = append(regions, r)
	}
	return regions
}

// cut takes the region's side of its bridge link down: it reaches no
// other region and no other region reaches it. heal brings it back.
func (r *region) cut(t testing.TB)  { ipRun(t, "-n", r.ns, "link", "set", r.link, "down") }
func (r *region) heal(t testing.TB) { ipRun(t, "-n", r.ns, "link", "set", r.link, "up") }

// delayProxy forwards the connections it accepts on the bridge to a
// member, delaying every byte by oneWay in each direction.
type delayProxy struct {
	target string
	ln     net.Listener
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newDelayProxy(t testing.TB, target string) *delayProxy {
	t.Helper()
	p := &delayProxy{target: target, conns: map[net.Conn]struct{}{}}
	var err error
	if p.ln, err = net.Listen("tcp", bridgeIP+":0"); err != nil {
		t.Fatal(err)
	}
	go p.serve()
	t.Cleanup(func() {
		p.ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *delayProxy) addr() string { return p.ln.Addr().String() }

func (p *delayProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *delayProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
}

func (p *delayProxy) forget(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *delayProxy) forward(c net.Conn) {
	// A short dial: an attempt made while the link is cut fails fast, and
	// the next one, after the link is back, goes out at once (a SYN lost
	// in a cut is otherwise retried a second later).
	u, err := net.DialTimeout("tcp", p.target, 100*time.Millisecond)
	if err != nil {
		c.Close()
		return
	}
	// Data unacknowledged for half a second ends the connection, as a router
	// of the path would time out a dead flow: both sides redial, and a
	// healed link carries new connections at once.
	userTimeout(c)
	userTimeout(u)
	p.track(c, u)
	done := make(chan struct{}, 2)
	go func() { delayCopy(u, c, oneWay); done <- struct{}{} }()
	go func() { delayCopy(c, u, oneWay); done <- struct{}{} }()
	<-done
	p.forget(c, u)
	<-done
}

// userTimeout sets TCP_USER_TIMEOUT to half a second on c.
func userTimeout(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 500)
			})
		}
	}
}

// delayCopy copies src to dst, each chunk written delay after it was
// read, in order.
func delayCopy(dst io.Writer, src io.Reader, delay time.Duration) {
	type chunk struct {
		at   time.Time
		data []byte
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.data); err != nil {
			for range q { // drain, so the reader ends
			}
			return
		}
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// buildBinaries builds the service and the etcd member into dir.
func buildBinaries(t testing.TB, dir string) (service, member string) {
	t.Helper()
	service, member = filepath.Join(dir, "widget-sessions"), filepath.Join(dir, "etcd-member")
	for bin, pkg := range map[string]string{service: ".", member: "../../internal/etcdstore/etcdtest/member"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return service, member
}

// startMember starts the region's etcd member: its clients and peers
// reach it on the bridge through its proxies; state is "new" or
// "existing".
func (r *region) startMember(t testing.TB, bin, initialCluster, state string) {
	t.Helper()
	r.member = r.start(t, nil, bin,
		"-name", r.memberName, "-dir", filepath.Join(r.dir, "etcd"),
		"-listen-client", "http://0.0.0.0:2379", "-advertise-client", "http://"+r.ip+":2379",
		"-listen-peer", "http://0.0.0.0:2380", "-advertise-peer", "http://"+r.peerProxy.addr(),
		"-initial-cluster", initialCluster, "-state", state,
		"-tick", fmt.Sprint(tickMs), "-election", fmt.Sprint(electionMs))
}

// waitMember waits for the member's "ready".
func (r *region) waitMember(t testing.TB) {
	t.Helper()
	wait.Within(t, 60*time.Second, r.name+": etcd member ready", func() bool {
		return strings.Contains(r.member.out.String(), "ready") || r.member.exited()
	}, r.member.out.String)
	if r.member.exited() {
		t.Fatalf("%s: etcd member exited:\n%s", r.name, r.member.out.String())
	}
}

// startRedis starts the region's Redis and its replica, inside the
// namespace on its loopback.
func (r *region) startRedis(t testing.TB) {
	t.Helper()
	common := []string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"}
	r.redis = r.start(t, nil, "redis-server", append([]string{"--port", "6379"}, common...)...)
	r.replica = r.start(t, nil, "redis-server", append([]string{"--port", "6380", "--replicaof", "127.0.0.1", "6379"}, common...)...)
}

// startService starts the region's service replica with env.
func (r *region) startService(t testing.TB, bin string, env map[string]string) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	r.service = r.start(t, list, bin)
}

// ctxFor is a context bounded by d.
func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
