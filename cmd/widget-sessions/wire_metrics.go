package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/causeflow/widget-sessions/pkg/redis"
)

// revocationMetrics are the revocation store's, whichever it is (Redis,
// or etcd across regions).
type revocationMetrics struct {
	writes  *prometheus.HistogramVec
	resyncs *prometheus.CounterVec
}

func newRevocationMetrics(reg prometheus.Registerer) (*revocationMetrics, error) {
	m := &revocationMetrics{
		writes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_revocation_write_duration_seconds",
			Help:    "Time to write a revocation and have it acknowledged (by the Redis replicas, or committed by the etcd quorum), by result (ok, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_revocation_resyncs_total",
			Help: "Full re-syncs of the revocation mirror, by reason (start, periodic, gap, loss).",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.writes, m.resyncs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *revocationMetrics) write(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.writes.WithLabelValues(result).Observe(d.Seconds())
}

func (m *revocationMetrics) resync(reason string) { m.resyncs.WithLabelValues(reason).Inc() }

// redisMetrics are the metrics of the Redis adapters: what an operator
// watches through a failover.
type redisMetrics struct {
	rev          *revocationMetrics
	resubscribes *prometheus.CounterVec
	shortfalls   *prometheus.CounterVec
	commands     *prometheus.HistogramVec
	errors       *prometheus.CounterVec
	clockOffset  prometheus.Gauge
	replicas     prometheus.Gauge
	required     prometheus.Gauge
}

func newRedisMetrics(reg prometheus.Registerer, rev *revocationMetrics) (*redisMetrics, error) {
	m := &redisMetrics{
		rev: rev,
		resubscribes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_redis_resubscribes_total",
			Help: "Pub/sub subscriptions re-established after they broke, by subscription (revocations, events).",
		}, []string{"subscription"}),
		shortfalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_redis_replication_shortfalls_total",
			Help: "Writes the master applied but too few replicas confirmed within WIDGET_REDIS_WAIT_TIMEOUT (answered 503), by write (revocation, ticket, event).",
		}, []string{"write"}),
	}
	m.commands = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "widget_sessions_redis_command_duration_seconds",
		Help:    "Time of each Redis command (lower-case name; pipeline for a pipeline or transaction), errors included.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"command"})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_redis_command_errors_total",
		Help: "Redis commands that failed (a nil reply is no failure), by command.",
	}, []string{"command"})
	m.clockOffset = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "widget_sessions_clock_offset_seconds",
		Help: "This replica's clock minus Redis's (TIME), measured every 10 s: revocation cutoffs and token times come from different replicas' clocks, so they must agree (NTP).",
	})
	m.replicas = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "widget_sessions_redis_replicas",
		Help: "Replicas connected to the Redis master (the fewest of any master on a Cluster), measured every 10 s when WIDGET_REDIS_MIN_REPLICAS is above 0.",
	})
	m.required = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "widget_sessions_redis_replicas_required",
		Help: "WIDGET_REDIS_MIN_REPLICAS: the replicas an acknowledged write waits for.",
	})
	for _, c := range []prometheus.Collector{m.resubscribes, m.shortfalls, m.commands, m.errors, m.clockOffset, m.replicas, m.required} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observer reports to the metrics.
func (m *redisMetrics) observer() redis.Observer {
	return redis.Observer{
		RevocationWrite: m.rev.write,
		Resync:          m.rev.resync,
		Resubscribe:     func(sub string) { m.resubscribes.WithLabelValues(sub).Inc() },
	}
}

func (m *redisMetrics) shortfall(what string) { m.shortfalls.WithLabelValues(what).Inc() }

// command observes one Redis command.
func (m *redisMetrics) command(name string, d time.Duration, err error) {
	m.commands.WithLabelValues(name).Observe(d.Seconds())
	if err != nil {
		m.errors.WithLabelValues(name).Inc()
	}
}

// mirrorAge registers the gauge of the revocation mirror's age.
func mirrorAge(reg prometheus.Registerer, revs interface{ Age() time.Duration }) error {
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "widget_sessions_revocation_mirror_age_seconds",
		Help: "How long ago the revocation mirror was last confirmed current with its store (Redis, or etcd across regions); validation fails closed past WIDGET_REVOCATION_STALENESS.",
	}, func() float64 { return revs.Age().Seconds() }))
}
