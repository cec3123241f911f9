package main

// The server the benchmarks measure: the public API wired exactly as run
// wires it (openStores, incidentService, wiring.api and wiring.edge, JSON logs at
// info level, here to io.Discard), served by httptest. Only the assistant
// may differ: run's embedded assistant pauses 30 ms between deltas, which
// does not delay the first delta but makes every message take half a
// second; the latency benchmarks use the same assistant without the pause,
// so that one iteration is one message and its whole answer.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/devidp"
)

// benchServer is a running public API.
type benchServer struct {
	url    string // http://127.0.0.1:port
	addr   string // 127.0.0.1:port
	idp    *devidp.IDP
	client *http.Client
}

// startBenchServer serves the public API with env as its whole
// environment (plus a dev-IdP key file in tb.TempDir() unless env names
// one), wired as run wires it. The assistant is the embedded one;
// pauseless makes it answer without pausing between deltas. Everything
// stops when tb ends: streams are drained first.
func startBenchServer(tb testing.TB, env map[string]string, pauseless bool) *benchServer {
	tb.Helper()
	e := map[string]string{"WIDGET_DEV_IDP_KEY": filepath.Join(tb.TempDir(), "dev-idp.jwks.json")}
	for k, v := range env {
		e[k] = v
	}
	cfg, err := config.Load(func(k string) string { return e[k] })
	if err != nil {
		tb.Fatal(err)
	}
	logger, closeLog := newLogger(cfg.Log.Level, cfg.Log.FlushInterval, io.Discard)
	tb.Cleanup(closeLog)
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	st, err := openStores(ctx, cfg, logger, prometheus.NewRegistry(), noop.NewTracerProvider())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(st.close)
	incidents, err := incidentService(cfg, st, logger)
	if err != nil {
		tb.Fatal(err)
	}
	metrics, err := api.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	w := wiring{reg: prometheus.NewRegistry(), cfg: cfg, logger: logger, metrics: metrics, tracing: noop.NewTracerProvider(), stores: st, incidents: incidents}
	a, err := w.api(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	pause := assistant.DefaultPause
	if pauseless {
		pause = 0
	}
	am, err := assistant.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	edge, err := w.edge(ctx, a.ring, assistant.NewEmbedded(pause), am)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(edge.chat.Close)
	engine, err := api.NewServer(api.ServerOptions{Logger: logger, Metrics: metrics, Tracing: noop.NewTracerProvider()}, a.surface, edge.surface)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(engine)
	tb.Cleanup(func() {
		edge.hub.Drain() // streams end, so Close does not wait on them
		hs.Close()
	})
	idp, err := devidp.LoadOrCreate(cfg.Caller.DevIDPKey)
	if err != nil {
		tb.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	tb.Cleanup(tr.CloseIdleConnections)
	return &benchServer{url: hs.URL, addr: strings.TrimPrefix(hs.URL, "http://"), idp: idp, client: &http.Client{Transport: tr}}
}

// post sends a JSON body with a bearer token and returns the status and
// the body read whole.
func (s *benchServer) post(tb testing.TB, path, bearerToken, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bearerToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode, b
}

// mintN mints n sessions of user_alice on the demo incident.
func (s *benchServer) mintN(tb testing.TB, n int) []createSessionResponse {
	tb.Helper()
	caller, err := s.idp.Token(devidp.TokenRequest{Tenant: "demo", Subject: "caller_demo", Roles: []string{"admin"}})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]createSessionResponse, n)
	for i := range out {
		status, body := s.post(tb, "/v1/widget/sessions", caller, readmeBody)
		if status != http.StatusCreated || json.Unmarshal(body, &out[i]) != nil {
			tb.Fatalf("mint: %d %s", status, body)
		}
	}
	return out
}

// send posts a message and returns its id once the 202 has arrived.
func (s *benchServer) send(tb testing.TB, sess createSessionResponse, content string) string {
	tb.Helper()
	body, _ := json.Marshal(map[string]string{"content": content})
	status, resp := s.post(tb, "/v1/widget/sessions/"+sess.SessionID+"/messages", sess.SessionToken, string(body))
	var out struct{ MessageID string }
	if status != http.StatusAccepted || json.Unmarshal(resp, &out) != nil {
		tb.Fatalf("POST message: %d %s", status, resp)
	}
	return out.MessageID
}
