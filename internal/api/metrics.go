package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Metrics are the service's Prometheus metrics, registered on a registry
// built in run (never the global default registry).
type Metrics struct {
	mints        *prometheus.CounterVec
	mintDuration *prometheus.HistogramVec
	requests     *prometheus.CounterVec
	reqDuration  *prometheus.HistogramVec
	refusals     *prometheus.CounterVec
	revocations  *prometheus.CounterVec
	tickets      *prometheus.CounterVec
	feedback     *prometheus.CounterVec

	// byRequest holds each (route, method, status)'s counter and
	// histogram once looked up: a request then costs one map read, not
	// two label hashes and a status formatted. It is bounded: routes are
	// templates, methods are the known ones or "other", and statuses are
	// the few this service answers.
	byRequest sync.Map // requestKey → requestSeries
	created   requestSeries
}

type requestKey struct {
	route, method string
	status        int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
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
			Help: "Requests refused by a per-tenant, per-session or per-client limit (the error code: rate_limited, too_many_streams, too_many_tickets, too_many_replies, model_budget_exhausted, storage_quota_exceeded, revocation_limit_reached), or by the global ticket bound (ticket_store_full), by route template.",
		}, []string{"route", "code"}),
	}
	m.revocations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_revocations_total",
		Help: "Revocation requests by kind (session, user, tenant) and result: revoked, or the error code.",
	}, []string{"kind", "result"})
	m.tickets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_stream_tickets_total",
		Help: "Stream ticket requests by result: issued, or the error code (rate_limited, too_many_tickets, dependency_unavailable, ...).",
	}, []string{"result"})
	m.feedback = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_feedback_total",
		Help: "Ratings of the assistant's answers recorded, by rating: up or down.",
	}, []string{"rating"})
	for _, c := range []prometheus.Collector{m.mints, m.mintDuration, m.requests, m.reqDuration, m.refusals, m.revocations, m.tickets, m.feedback} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"up", "down"} {
		m.feedback.WithLabelValues(r) // both series from the start, at 0
	}
	m.created = requestSeries{m.mints.WithLabelValues("created"), m.mintDuration.WithLabelValues("created")}
	return m, nil
}

func (m *Metrics) observeMint(result string, d time.Duration) {
	if result == "created" {
		m.created.count.Inc()
		m.created.duration.Observe(d.Seconds())
		return
	}
	m.mints.WithLabelValues(result).Inc()
	m.mintDuration.WithLabelValues(result).Observe(d.Seconds())
}

func (m *Metrics) observeRequest(route, method string, status int, d time.Duration) {
	k := requestKey{route: route, method: knownMethod(method), status: status}
	s, ok := m.byRequest.Load(k)
	if !ok {
		s, _ = m.byRequest.LoadOrStore(k, requestSeries{
			count:    m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(status)),
			duration: m.reqDuration.WithLabelValues(route),
		})
	}
	series := s.(requestSeries)
	series.count.Inc()
	series.duration.Observe(d.Seconds())
}

// knownMethod is method when it is one HTTP defines, and "other" for
// anything else: a client choosing the method must not choose how many
// series the metrics hold.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}

// observeRevocation counts a revocation request of kind that ended with
// err (nil: revoked).
func (m *Metrics) observeRevocation(kind string, err error) {
	result := "revoked"
	if err != nil {
		result = widget.ErrorCode(err)
	}
	m.revocations.WithLabelValues(kind, result).Inc()
}

// observeTicket counts a stream ticket request that ended with err (nil:
// issued).
func (m *Metrics) observeTicket(err error) {
	result := "issued"
	if err != nil {
		result = widget.ErrorCode(err)
	}
	m.tickets.WithLabelValues(result).Inc()
}

func (m *Metrics) observeRefusal(route, code string) {
	m.refusals.WithLabelValues(route, code).Inc()
}

// observeFeedback counts a rating recorded.
func (m *Metrics) observeFeedback(rating string) {
	m.feedback.WithLabelValues(rating).Inc()
}
