package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// otlpCollector is a fake OTLP/HTTP collector: it keeps every export, raw
// and decoded.
type otlpCollector struct {
	mu    sync.Mutex
	raw   [][]byte
	spans []*tracepb.Span
}

func (c *otlpCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw = append(c.raw, b)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(nil)
}

// TestTraces: with an OTLP endpoint set, a mint that arrives with a W3C
// traceparent continues the gateway's trace, with spans for the mint, its
// directory and incident lookups, and Redis; a message's reply has its
// assistant span. No span, attribute or event holds the session token, the
// caller JWT, a JWS, or what was asked.
func TestTraces(t *testing.T) {
	t.Parallel()
	col := &otlpCollector{}
	collector := httptest.NewServer(col)
	defer collector.Close()
	rds := redistest.Start(t)
	// The gateway, on loopback, is a trusted proxy: its trace context is
	// continued.
	c := newCluster(t, rds.URL(), map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "WIDGET_TRUSTED_PROXIES": "127.0.0.1"})
	s := startServer(t, c.env)
	admin := c.caller(t, "demo", "admin")
	// A method a client makes up does not name a span.
	if r := s.do(t, "BREW", s.public+"/v1/widget/sessions", nil, ""); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("BREW: %d", r.status)
	}

	const traceID, parentID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r := s.do(t, http.MethodPost, s.public+"/v1/widget/sessions", map[string]string{
		"Authorization": "Bearer " + admin, "Content-Type": "application/json",
		"traceparent": "00-" + traceID + "-" + parentID + "-01",
	}, readmeBody)
	var first createSessionResponse
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &first) != nil {
		t.Fatalf("mint: %d %s", r.status, r.body)
	}
	sess := s.mintCreated(t, admin, readmeBody)
	st := mustOpenStream(t, streamClient(t), s.streamURL(sess.SessionID), bearer(sess.SessionToken))
	id := s.mustSend(t, sess.SessionID, sess.SessionToken, causeQuestion)
	st.until(t, streamWait, replyEnded(t, id))
	s.stop(t) // exports what is left

	col.mu.Lock()
	defer col.mu.Unlock()
	hex := hex.EncodeToString
	byName := map[string][]*tracepb.Span{}
	for _, sp := range col.spans {
		byName[sp.Name] = append(byName[sp.Name], sp)
	}
	var mintSpan *tracepb.Span
	for _, sp := range byName["POST /v1/widget/sessions"] {
		if hex(sp.TraceId) == traceID {
			mintSpan = sp
		}
	}
	if mintSpan == nil || hex(mintSpan.ParentSpanId) != parentID || mintSpan.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Fatalf("no server span of the mint continuing the gateway's trace; spans: %v", names(col.spans))
	}
	inTrace := func(name string) bool {
		for _, sp := range byName[name] {
			if hex(sp.TraceId) == traceID {
				return true
			}
		}
		return false
	}
	for _, name := range []string{"session.mint", "directory.user_exists", "incident.warm"} {
		if !inTrace(name) {
			t.Errorf("no %s span in the gateway's trace; spans: %v", name, names(col.spans))
		}
	}
	redisSpans := 0
	for name := range byName {
		if strings.HasPrefix(name, "redis ") {
			redisSpans++
		}
	}
	if redisSpans == 0 || len(byName["assistant.reply"]) == 0 {
		t.Errorf("%d kinds of Redis span and %d assistant spans, want some of each; spans: %v", redisSpans, len(byName["assistant.reply"]), names(col.spans))
	}
	for _, sp := range col.spans {
		if strings.Contains(sp.Name, "BREW") {
			t.Errorf("a span is named after a made-up method: %q", sp.Name)
		}
	}
	if len(byName["HTTP unmatched"]) != 1 {
		t.Errorf("the BREW request has no span named HTTP unmatched; spans: %v", names(col.spans))
	}
	all := bytes.Join(col.raw, nil)
	for what, secret := range map[string]string{
		"the session token": sess.SessionToken, "the first session's token": first.SessionToken,
		"the caller JWT": admin, "a JWS header": "eyJ", "the question": causeQuestion,
	} {
		if bytes.Contains(all, []byte(secret)) {
			t.Errorf("an export holds %s", what)
		}
	}
}

// TestTracesUntrustedParent: a traceparent from a peer that is not a
// trusted proxy is ignored. Its sampled flag does not force an export at a
// sampling ratio of 0, and its trace id names no span.
func TestTracesUntrustedParent(t *testing.T) {
	t.Parallel()
	col := &otlpCollector{}
	collector := httptest.NewServer(col)
	defer collector.Close()
	s := startServer(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_TRACES_SAMPLER_ARG": "0"})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for range 20 {
		r := s.do(t, http.MethodGet, s.public+"/.well-known/jwks.json", map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}, "")
		if r.status != http.StatusOK {
			t.Fatalf("jwks: %d", r.status)
		}
	}
	s.stop(t) // exports what is left
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != 0 {
		t.Errorf("at ratio 0, a client's sampled traceparent exported %d spans: %v", len(col.spans), names(col.spans))
	}
	if bytes.Contains(bytes.Join(col.raw, nil), must(hex.DecodeString(traceID))) {
		t.Error("an export carries the client's trace id")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name)
	}
	return out
}
