package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/causeflow/widget-sessions/internal/api"
)

// TestInternalHandler checks liveness, readiness as the ReadyCheck says,
// and that /metrics shows what the public API counted.
func TestInternalHandler(t *testing.T) {
	f := newFixture(t)
	var notReady atomic.Pointer[error]
	var warned atomic.Pointer[[]string]
	srv := httptest.NewServer(api.NewInternal(f.reg, func() error {
		if err := notReady.Load(); err != nil {
			return *err
		}
		return nil
	}, func() []string {
		if w := warned.Load(); w != nil {
			return *w
		}
		return nil
	}, false))
	t.Cleanup(srv.Close)
	get := func(t *testing.T, path string) (int, http.Header, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, string(body)
	}
	status := func(t *testing.T, body string) map[string]string {
		t.Helper()
		var m map[string]string
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		return m
	}

	t.Run("healthz", func(t *testing.T) {
		for _, ready := range []bool{true, false} {
			if !ready {
				err := errors.New("caller JWKS not loaded")
				notReady.Store(&err)
			}
			code, hdr, body := get(t, "/healthz")
			if code != http.StatusOK || status(t, body)["status"] != "ok" {
				t.Errorf("ready=%v: /healthz = %d %s, want 200 ok whatever readiness says", ready, code, body)
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", hdr.Get("Cache-Control"))
			}
			notReady.Store(nil)
		}
	})

	t.Run("readyz", func(t *testing.T) {
		tests := []struct {
			name   string
			err    error
			code   int
			status string
		}{
			{"ready", nil, http.StatusOK, "ready"},
			{"not ready", errors.New("caller JWKS not loaded"), http.StatusServiceUnavailable, "not ready"},
			{"ready again", nil, http.StatusOK, "ready"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.err != nil {
					notReady.Store(&tt.err)
				} else {
					notReady.Store(nil)
				}
				code, _, body := get(t, "/readyz")
				m := status(t, body)
				if code != tt.code || m["status"] != tt.status {
					t.Errorf("/readyz = %d %s, want %d %q", code, body, tt.code, tt.status)
				}
				switch {
				case tt.err != nil && m["reason"] != tt.err.Error():
					t.Errorf("reason = %q, want %q", m["reason"], tt.err)
				case tt.err == nil && m["reason"] != "":
					t.Errorf("reason = %q when ready", m["reason"])
				}
			})
		}
	})

	// A warning (Redis short of replicas, say) is said on /readyz, which
	// stays ready: minting and validation still work.
	t.Run("readyz with a warning", func(t *testing.T) {
		w := []string{"redis has 0 connected replicas and WIDGET_REDIS_MIN_REPLICAS is 1"}
		warned.Store(&w)
		defer warned.Store(nil)
		code, _, body := get(t, "/readyz")
		var m struct {
			Status   string
			Warnings []string
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil || code != http.StatusOK || m.Status != "ready" || len(m.Warnings) != 1 || m.Warnings[0] != w[0] {
			t.Errorf("/readyz = %d %s, want 200 ready with the warning", code, body)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		_, _, before := get(t, "/metrics")
		// The created series exists from the start, at zero, so that a
		// rate over it is defined before the first mint.
		if !strings.Contains(before, `widget_sessions_mints_total{result="created"} 0`) {
			t.Fatalf("the created mints are not counted from zero before any mint:\n%s", before)
		}
		f.mint(t, `{"userId":"user_alice"}`)
		f.do(t, f.mintRequest(t, "", `{}`))
		// Methods a client makes up share one series.
		for _, method := range []string{"BREW", "WHEN"} {
			req := f.mintRequest(t, "", `{}`)
			req.Method = method
			f.do(t, req)
		}
		code, hdr, body := get(t, "/metrics")
		if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
			t.Fatalf("/metrics = %d %s", code, hdr.Get("Content-Type"))
		}
		for _, want := range []string{
			`widget_sessions_mints_total{result="created"} 1`,
			`widget_sessions_mints_total{result="unauthorized"} 1`,
			`widget_sessions_mint_duration_seconds_count{result="created"} 1`,
			`widget_sessions_http_requests_total{method="POST",route="/v1/widget/sessions",status="201"} 1`,
			`widget_sessions_http_requests_total{method="POST",route="/v1/widget/sessions",status="401"} 1`,
			`widget_sessions_http_requests_total{method="other",route="unmatched",status="405"} 2`,
			`widget_sessions_http_request_duration_seconds_count{route="/v1/widget/sessions"} 2`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(body, `method="BREW"`) {
			t.Error("a made-up method got a series of its own")
		}
	})
}

// TestInternalProfiler: Go's profiler is served on the internal listener
// only when asked for.
func TestInternalProfiler(t *testing.T) {
	f := newFixture(t)
	for _, on := range []bool{false, true} {
		h := api.NewInternal(f.reg, func() error { return nil }, nil, on)
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; rec.Code != want {
				t.Errorf("pprof %v: GET %s = %d; want %d", on, path, rec.Code, want)
			}
		}
	}
	// The public engine never serves it.
	resp, err := f.client.Get(f.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public GET /debug/pprof/ = %d; want 404", resp.StatusCode)
	}
}
