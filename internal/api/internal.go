package api

import (
	"encoding/json"
	"net/http"
	httppprof "net/http/pprof"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyCheck reports why the service cannot serve yet, or nil when it can.
type ReadyCheck func() error

// NewInternal returns the handler of the internal listener: liveness,
// readiness and Prometheus metrics, kept off the public listener, and Go's
// profiler when pprof is set. warnings (nil: none) says what is wrong but
// does not make the replica unready; /readyz lists it either way.
func NewInternal(gatherer prometheus.Gatherer, ready ReadyCheck, warnings func() []string, pprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		var warned []string
		if warnings != nil {
			warned = warnings()
		}
		if err := ready(); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, readiness{Status: "not ready", Reason: err.Error(), Warnings: warned})
			return
		}
		writeStatus(w, http.StatusOK, readiness{Status: "ready", Warnings: warned})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	if pprof {
		mux.HandleFunc("GET /debug/pprof/", httppprof.Index) // and every named profile under it
		mux.HandleFunc("GET /debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	}
	return mux
}

// readiness is the body of /readyz.
type readiness struct {
	Status   string   `json:"status"`
	Reason   string   `json:"reason,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

func writeStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
