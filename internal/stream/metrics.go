package stream

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the streams': how many are open, and how each ended.
type Metrics struct {
	reg    prometheus.Registerer
	closes *prometheus.CounterVec
}

// NewMetrics registers the streams' metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{reg: reg, closes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_stream_ends_total",
		Help: "Widget streams closed, by how they ended: session_revoked, session_expired, revocation_state_unknown, interrupted, drained (the replica went away) or closed (the client left).",
	}, []string{"reason"})}
	if err := reg.Register(m.closes); err != nil {
		return nil, err
	}
	return m, nil
}

// Closed counts a stream that ended with reason: Config.OnClose.
func (m *Metrics) Closed(reason string) { m.closes.WithLabelValues(reason).Inc() }

// Watch registers the gauge of hub's open streams.
func (m *Metrics) Watch(hub *Hub) error {
	return m.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "widget_sessions_streams_open",
		Help: "Widget streams open on this replica.",
	}, func() float64 { return float64(hub.Streams()) }))
}
