// Package etcdtest runs real etcd members (go.etcd.io/etcd/server/v3's
// embed) on free loopback ports, for tests: one member, or a cluster of
// several, each member stoppable and restartable on its own data.
package etcdtest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// Member is one etcd member.
type Member struct {
	Name       string
	ClientURL  string // http://127.0.0.1:port
	PeerURL    string
	advertise  string // the peer URL the others dial: PeerURL, or a proxy's
	dir        string
	cluster    string
	state      string
	tickMs     uint
	electionMs uint
	etcd       *embed.Etcd
}

// Cluster is a set of members that form one raft group.
type Cluster struct {
	t       testing.TB
	Members []*Member
}

// Options tune a cluster. The zero value: 50 ms heartbeats and a 500 ms
// election timeout (loopback round trips are well under a millisecond).
type Options struct {
	TickMs, ElectionMs uint
	// PeerURLs, when set, are what each member advertises to the others
	// (for example a proxy in front of its peer port, to cut links); the
	// members still listen on their own ports. One per member.
	PeerURLs []string
}

// Start starts a cluster of n members and waits until it has a leader.
func Start(t testing.TB, n int, o Options) *Cluster {
	t.Helper()
	if o.TickMs == 0 {
		o.TickMs = 50
	}
	if o.ElectionMs == 0 {
		o.ElectionMs = 500
	}
	c := &Cluster{t: t}
	var initial []string
	for i := range n {
		m := &Member{
			Name:       fmt.Sprintf("m%d", i+1),
			ClientURL:  fmt.Sprintf("http://127.0.0.1:%d", redistest.FreePort(t)),
			PeerURL:    fmt.Sprintf("http://127.0.0.1:%d", redistest.FreePort(t)),
			dir:        t.TempDir(),
			state:      embed.ClusterStateFlagNew,
			tickMs:     o.TickMs,
			electionMs: o.ElectionMs,
		}
		m.advertise = m.PeerURL
		if i < len(o.PeerURLs) {
			m.advertise = o.PeerURLs[i]
		}
		initial = append(initial, m.Name+"="+m.advertise)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.cluster = strings.Join(initial, ",")
	}
	errs := make(chan error, n)
	for _, m := range c.Members {
		go func() { errs <- m.start() }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.Stop()
		}
	})
	return c
}

func (m *Member) start() error {
	cfg, err := EmbedConfig(MemberSpec{
		Name: m.Name, Dir: m.dir, ListenClient: m.ClientURL, AdvertiseClient: m.ClientURL,
		ListenPeer: m.PeerURL, AdvertisePeer: m.advertise, InitialCluster: m.cluster,
		State: m.state, TickMs: m.tickMs, ElectionMs: m.electionMs,
	})
	if err != nil {
		return err
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd member %s: %w", m.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("etcd member %s not ready within 30 s", m.Name)
	}
	m.etcd = e
	return nil
}

// MemberSpec is one member's configuration: what EmbedConfig turns into
// etcd's.
type MemberSpec struct {
	Name, Dir                     string
	ListenClient, AdvertiseClient string // URLs
	ListenPeer, AdvertisePeer     string
	InitialCluster                string // name=peerURL,...
	State                         string // "new" or "existing"
	TickMs, ElectionMs            uint
}

// EmbedConfig is spec as etcd's embed.Config, quiet (errors only) and
// without a metrics listener.
func EmbedConfig(spec MemberSpec) (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = spec.Name, spec.Dir
	var urls [4]*url.URL
	for i, u := range []string{spec.ListenClient, spec.AdvertiseClient, spec.ListenPeer, spec.AdvertisePeer} {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return nil, fmt.Errorf("etcd member %s: bad URL %q", spec.Name, u)
		}
		urls[i] = p
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*urls[0]}, []url.URL{*urls[1]}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*urls[2]}, []url.URL{*urls[3]}
	cfg.InitialCluster = spec.InitialCluster
	cfg.InitialClusterToken = "widget-sessions-test"
	cfg.ClusterState = spec.State
	cfg.TickMs, cfg.ElectionMs = spec.TickMs, spec.ElectionMs
	cfg.LogLevel = "error"
	cfg.ListenMetricsUrls = nil
	return cfg, nil
}

// Stop stops the member, keeping its data.
func (m *Member) Stop() {
	if m.etcd != nil {
		m.etcd.Close()
		m.etcd = nil
	}
}

// Restart starts a stopped member again on its data.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	m.state = embed.ClusterStateFlagExisting
	if err := m.start(); err != nil {
		t.Fatal(err)
	}
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.ClientURL)
	}
	return out
}

// Client returns a client of endpoints (default: every member), closed
// when the test ends.
func (c *Cluster) Client(endpoints ...string) *clientv3.Client {
	c.t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cli.Close() })
	return cli
}
