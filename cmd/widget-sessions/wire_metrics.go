package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/causeflow/widget-sessions/pkg/redis"
)

// redisMetrics are the metrics of the Redis adapters: what an operator
// watches through a failover.
type redisMetrics struct {
	writes       *prometheus.HistogramVec
	resyncs      *prometheus.CounterVec
	resubscribes *prometheus.CounterVec
	shortfalls   *prometheus.CounterVec
}

func newRedisMetrics(reg prometheus.Registerer) (*redisMetrics, error) {
	m := &redisMetrics{
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_revocation_write_duration_seconds",
			Help:    "Time to write a revocation to Redis and have it acknowledged (replicas included), by result (ok, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_revocation_resyncs_total",
			Help: "Full re-syncs of the revocation mirror, by reason (start, periodic, gap, loss).",
		}, []string{"reason"}),
		resubscribes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_redis_resubscribes_total",
			Help: "Pub/sub subscriptions re-established after they broke, by subscription (revocations, events).",
		}, []string{"subscription"}),
		shortfalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_redis_replication_shortfalls_total",
			Help: "Writes the master applied but too few replicas confirmed within WIDGET_REDIS_WAIT_TIMEOUT (answered 503), by write (revocation, ticket, event).",
		}, []string{"write"}),
	}
	for _, c := range []prometheus.Collector{m.writes, m.resyncs, m.resubscribes, m.shortfalls} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observer reports to the metrics.
func (m *redisMetrics) observer() redis.Observer {
	return redis.Observer{
		RevocationWrite: func(d time.Duration, err error) {
			result := "ok"
			if err != nil {
				result = "error"
			}
			m.writes.WithLabelValues(result).Observe(d.Seconds())
		},
		Resync:      func(reason string) { m.resyncs.WithLabelValues(reason).Inc() },
		Resubscribe: func(sub string) { m.resubscribes.WithLabelValues(sub).Inc() },
	}
}

func (m *redisMetrics) shortfall(what string) { m.shortfalls.WithLabelValues(what).Inc() }

// mirrorAge registers the gauge of the revocation mirror's age.
func mirrorAge(reg prometheus.Registerer, revs *redis.Revocations) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "widget_sessions_revocation_mirror_age_seconds",
		Help: "How long ago the revocation mirror was last confirmed current with Redis; validation fails closed past WIDGET_REVOCATION_STALENESS.",
	}, func() float64 { return revs.Age().Seconds() }))
}
