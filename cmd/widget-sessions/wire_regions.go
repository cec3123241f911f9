package main

// The revocation store shared by every region (WIDGET_REVOCATION_ETCD):
// its client, its metrics and the region's propagation canary.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/pkg/etcd"
)

// CanaryInterval is how often each replica re-writes its region's canary.
const CanaryInterval = 10 * time.Second

// maxCanaryOrigins bounds the regions whose canaries are timed: the
// label values of the canary metrics.
const maxCanaryOrigins = 32

// regionMetrics are the metrics of the revocation store across regions.
type regionMetrics struct {
	quorumReads *prometheus.HistogramVec
	canaryLag   *prometheus.HistogramVec
	canarySeen  *prometheus.GaugeVec

	mu      sync.Mutex
	origins map[string]bool
	// fresh is the store's freshness check, set once the store exists:
	// widget_sessions_region_isolated reads it.
	fresh func() error
}

func newRegionMetrics(reg prometheus.Registerer) (*regionMetrics, error) {
	m := &regionMetrics{
		quorumReads: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_revocation_quorum_read_seconds",
			Help:    "Time of the revocation mirror's linearizable read of the etcd store (every poll), by result (ok, error): a read that needs the quorum, so the round trip to the raft leader's region.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		canaryLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_revocation_canary_seconds",
			Help:    "Time from a region's canary write (its clock) to this replica's watch delivering it, by origin region: how long a revocation made there takes to reach here.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"origin"}),
		canarySeen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "widget_sessions_revocation_canary_last_seen_timestamp_seconds",
			Help: "When this replica last received each origin region's canary (Unix seconds); every region re-writes its own every 10 s.",
		}, []string{"origin"}),
		origins: map[string]bool{},
	}
	isolated := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "widget_sessions_region_isolated",
		Help: "1 while this replica cannot prove its revocation copy current (no linearizable read of the etcd store within WIDGET_REVOCATION_STALENESS): it fails closed and is not ready; 0 otherwise.",
	}, func() float64 {
		if m.fresh != nil && m.fresh() != nil {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.quorumReads, m.canaryLag, m.canarySeen, isolated} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *regionMetrics) quorumRead(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.quorumReads.WithLabelValues(result).Observe(d.Seconds())
}

// canary times a canary from origin, sent at its clock's sent.
func (m *regionMetrics) canary(origin string, sent time.Time) {
	m.mu.Lock()
	known := m.origins[origin]
	if !known && len(m.origins) < maxCanaryOrigins {
		m.origins[origin], known = true, true
	}
	m.mu.Unlock()
	if !known {
		return
	}
	now := time.Now()
	m.canaryLag.WithLabelValues(origin).Observe(max(0, now.Sub(sent).Seconds()))
	m.canarySeen.WithLabelValues(origin).Set(float64(now.UnixNano()) / 1e9)
}

// openEtcdRevocations connects to the revocation store shared by the
// regions, loads it, and starts the region's canary. The start is
// refused when the first load fails: a replica must not serve with an
// unknown set.
func openEtcdRevocations(ctx context.Context, cfg config.Config, logger *zap.Logger, reg prometheus.Registerer, rev *revocationMetrics) (*etcd.Revocations, []func(), error) {
	endpoints, err := cfg.Revocation.EtcdEndpoints()
	if err != nil {
		return nil, nil, fmt.Errorf("WIDGET_REVOCATION_ETCD: %w", err)
	}
	var tlsCfg *tls.Config
	if strings.HasPrefix(cfg.Revocation.Etcd, "etcds://") {
		if tlsCfg, err = etcdTLS(cfg.Revocation); err != nil {
			return nil, nil, err
		}
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: 5 * time.Second, TLS: tlsCfg,
		// A connection to a member across a cut is found dead within 2 s
		// and redialled: after a partition heals, a fresh connection
		// carries the catch-up at once, where an old one would wait out
		// TCP's retransmission backoff (seconds).
		DialKeepAliveTime: time.Second, DialKeepAliveTimeout: time.Second, PermitWithoutStream: true,
		// Reconnect quickly once a member is back (gRPC's default backs off
		// up to 2 minutes): healing must take a second, not minutes.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: time.Second,
		})},
		Logger: logger.Named("etcd").WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("WIDGET_REVOCATION_ETCD: %w", err)
	}
	closers := []func(){func() { _ = cli.Close() }}
	metrics, err := newRegionMetrics(reg)
	if err != nil {
		closers[0]()
		return nil, nil, err
	}
	store, err := etcd.New(cli, etcd.Config{
		Prefix:          "/widget-sessions/" + cfg.Env + "/revocations/",
		StalenessBudget: cfg.Revocation.Staleness,
		Leeway:          cfg.Token.ClockSkew,
		Limits:          revocationLimits(cfg),
		Logger:          redisstore.Slog(logger.Named("revocations")),
		Observer: etcd.Observer{
			RevocationWrite: rev.write, Resync: rev.resync,
			QuorumRead: metrics.quorumRead, Canary: metrics.canary,
		},
	})
	if err != nil {
		closers[0]()
		return nil, nil, err
	}
	metrics.fresh = store.Fresh
	if err := store.Start(ctx); err != nil {
		closers[0]()
		return nil, nil, fmt.Errorf("revocations: etcd: %w", err)
	}
	closers = append(closers, func() { _ = store.Close() })
	cctx, stopCanary := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); runCanary(cctx, store, cfg.Revocation.Region, logger.Named("canary")) }()
	closers = append(closers, func() { stopCanary(); <-done })
	logger.Info("revocations on etcd, shared by the regions", zap.String("region", cfg.Revocation.Region),
		zap.Strings("members", endpoints), zap.Duration("staleness_budget", cfg.Revocation.Staleness))
	return store, closers, nil
}

// runCanary re-writes the region's canary every CanaryInterval (jittered,
// so that a region's replicas spread their writes) until ctx ends.
func runCanary(ctx context.Context, store *etcd.Revocations, region string, logger *zap.Logger) {
	failing := false
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := store.Canary(wctx, region)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			logger.Warn("cannot write the region's canary", zap.Error(err))
		case err == nil && failing:
			failing = false
			logger.Info("the region's canary is written again")
		}
		t := time.NewTimer(CanaryInterval - time.Second + rand.N(2*time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// etcdTLS is the client's TLS for etcds://: the CA file's roots (or the
// system's), and the client certificate when one is given.
func etcdTLS(r config.Revocation) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if r.EtcdCA != "" {
		pem, err := os.ReadFile(r.EtcdCA)
		if err != nil {
			return nil, fmt.Errorf("WIDGET_ETCD_CA_FILE: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, errors.New("WIDGET_ETCD_CA_FILE: no PEM certificate in it")
		}
	}
	if r.EtcdCert != "" {
		cert, err := tls.LoadX509KeyPair(r.EtcdCert, r.EtcdKey)
		if err != nil {
			return nil, fmt.Errorf("WIDGET_ETCD_CERT_FILE, WIDGET_ETCD_KEY_FILE: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
