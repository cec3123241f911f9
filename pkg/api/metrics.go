package api

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the service's Prometheus metrics, registered on a registry
// built in run (never the global default registry).
type Metrics struct {
	mints        *prometheus.CounterVec
	mintDuration *prometheus.HistogramVec
	requests     *prometheus.CounterVec
	reqDuration  *prometheus.HistogramVec
	refusals     *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		mints: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_mints_total",
			Help: "Session mint attempts by result: created, or the error code.",
		}, []string{"result"}),
		mintDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_mint_duration_seconds",
			Help:    "Time to handle a mint request, by result.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_http_requests_total",
			Help: "HTTP requests on the public listener by route template, method and status.",
		}, []string{"route", "method", "status"}),
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_http_request_duration_seconds",
			Help:    "HTTP request latency on the public listener by route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_limit_refusals_total",
			Help: "Requests refused by a per-tenant, per-session or per-client limit (the error code: rate_limited, too_many_streams, too_many_tickets, revocation_limit_reached), or by the global ticket bound (ticket_store_full), by route template.",
		}, []string{"route", "code"}),
	}
	for _, c := range []prometheus.Collector{m.mints, m.mintDuration, m.requests, m.reqDuration, m.refusals} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observeMint(result string, d time.Duration) {
	m.mints.WithLabelValues(result).Inc()
	m.mintDuration.WithLabelValues(result).Observe(d.Seconds())
}

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.reqDuration.WithLabelValues(route).Observe(d.Seconds())
}

func (m *Metrics) observeRefusal(route, code string) {
	m.refusals.WithLabelValues(route, code).Inc()
}
