// Command member runs one etcd member (etcd's embed, as etcdtest's
// members are) as a process of its own, for tests that place members in
// network namespaces (make test-regions). It runs until SIGTERM or
// SIGKILL.
//
//	member -name m1 -dir /tmp/m1 -listen-client http://0.0.0.0:2379 \
//	  -advertise-client http://10.77.0.1:2379 -listen-peer http://0.0.0.0:2380 \
//	  -advertise-peer http://10.77.0.254:40001 -initial-cluster m1=...,m2=... \
//	  -state new -tick 50 -election 500
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/causeflow/widget-sessions/internal/etcdstore/etcdtest"
)

func main() {
	var spec etcdtest.MemberSpec
	flag.StringVar(&spec.Name, "name", "", "member name")
	flag.StringVar(&spec.Dir, "dir", "", "data directory")
	flag.StringVar(&spec.ListenClient, "listen-client", "", "client URL to listen on")
	flag.StringVar(&spec.AdvertiseClient, "advertise-client", "", "client URL to advertise")
	flag.StringVar(&spec.ListenPeer, "listen-peer", "", "peer URL to listen on")
	flag.StringVar(&spec.AdvertisePeer, "advertise-peer", "", "peer URL the others dial")
	flag.StringVar(&spec.InitialCluster, "initial-cluster", "", "name=peerURL,...")
	flag.StringVar(&spec.State, "state", "new", "new or existing")
	flag.UintVar(&spec.TickMs, "tick", 50, "heartbeat interval, ms")
	flag.UintVar(&spec.ElectionMs, "election", 500, "election timeout, ms")
	flag.Parse()
	cfg, err := etcdtest.EmbedConfig(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		os.Exit(1)
	}
	select {
	case <-e.Server.ReadyNotify():
		fmt.Println("ready")
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "member: not ready within 60 s")
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "member:", err)
	}
	e.Close()
}
