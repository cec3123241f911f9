package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/causeflow/widget-sessions/internal/config"
)

// newTracing returns the tracer provider the service's spans go to: a
// no-op one unless an OTLP endpoint is configured (the standard OTEL_*
// variables, read through the configuration like every other setting),
// and the function that flushes and stops it.
func newTracing(ctx context.Context, cfg config.Config) (trace.TracerProvider, func(context.Context) error, error) {
	endpoint := cfg.Tracing.TracesEndpoint
	if endpoint == "" && cfg.Tracing.Endpoint != "" {
		endpoint = strings.TrimRight(cfg.Tracing.Endpoint, "/") + "/v1/traces"
	}
	if endpoint == "" || cfg.Tracing.Disabled {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	if cfg.Tracing.Headers != "" {
		h, err := otlpHeaders(cfg.Tracing.Headers)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, otlptracehttp.WithHeaders(h))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(cfg.Tracing.ServiceName))),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.Tracing.SampleRatio))),
	)
	return tp, tp.Shutdown, nil
}

// otlpHeaders parses OTEL_EXPORTER_OTLP_HEADERS: key=value pairs separated
// by commas, values URL-encoded. Its errors never quote a value: they are
// credentials.
func otlpHeaders(s string) (map[string]string, error) {
	h := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: a pair is not key=value")
		}
		dv, err := url.QueryUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_HEADERS: the value of %s is not URL-encoded", k)
		}
		h[k] = dv
	}
	return h, nil
}
