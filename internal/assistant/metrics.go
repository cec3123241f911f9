package assistant

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Metrics are the assistant's: its replies, their first delta, their
// deltas and the tokens the upstream reports.
type Metrics struct {
	tokens    *prometheus.CounterVec
	replies   *prometheus.HistogramVec
	firstByte prometheus.Histogram
	deltas    prometheus.Counter
}

// NewMetrics registers the assistant's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "widget_sessions_assistant_tokens_total",
			Help: "Tokens of the assistant's replies as the upstream counts them, by kind (prompt, completion); an upstream that reports none is not counted.",
		}, []string{"kind"}),
		replies: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "widget_sessions_assistant_reply_duration_seconds",
			Help:    "Time of each assistant reply, by result: completed, cancelled (stopped, or the replica closing) or error.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 40, 80, 120},
		}, []string{"result"}),
		firstByte: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "widget_sessions_assistant_first_delta_seconds",
			Help:    "Time from a reply's start to the assistant's first delta.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20},
		}),
		deltas: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "widget_sessions_assistant_deltas_total",
			Help: "Pieces of answer the assistant streamed (an OpenAI-compatible server sends about one token each).",
		}),
	}
	for _, c := range []prometheus.Collector{m.tokens, m.replies, m.firstByte, m.deltas} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Usage counts a reply's tokens, as an upstream reports them.
func (m *Metrics) Usage(prompt, completion int) {
	m.tokens.WithLabelValues("prompt").Add(float64(prompt))
	m.tokens.WithLabelValues("completion").Add(float64(completion))
}

// Measure returns a, each reply of it measured and traced with tracer.
func (m *Metrics) Measure(a Assistant, tracer trace.Tracer) Assistant {
	return measured{Assistant: a, m: m, tracer: tracer}
}

// measured reports each reply of the assistant it wraps.
type measured struct {
	Assistant
	m      *Metrics
	tracer trace.Tracer
}

func (a measured) Reply(ctx context.Context, req Request, emit func(string) error) error {
	// The span says how the reply went and how long it was, never what
	// was asked or answered.
	ctx, span := a.tracer.Start(ctx, "assistant.reply", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	start := time.Now()
	first := true
	deltas := 0
	err := a.Assistant.Reply(ctx, req, func(delta string) error {
		if first {
			first = false
			a.m.firstByte.Observe(time.Since(start).Seconds())
			span.AddEvent("first delta")
		}
		deltas++
		a.m.deltas.Inc()
		return emit(delta)
	})
	result := "completed"
	switch {
	case err != nil && ctx.Err() != nil:
		result = "cancelled"
	case err != nil:
		result = "error"
		span.SetStatus(codes.Error, "assistant error")
	}
	span.SetAttributes(attribute.String("widget.reply.result", result), attribute.Int("widget.reply.deltas", deltas))
	a.m.replies.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return err
}
