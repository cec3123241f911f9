package api

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Generated request ids keep the documented shape, never repeat within a
// process, and differ between processes in their random prefix.
func TestRequestIDs(t *testing.T) {
	shape := regexp.MustCompile(`^req_[0-9A-Za-z]{27}$`)
	a, b := newRequestIDs(), newRequestIDs()
	if a.prefix == b.prefix {
		t.Fatalf("two sources drew the same prefix %q", a.prefix)
	}
	seen := map[string]bool{}
	for range 100_000 {
		id := a.next()
		if !shape.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, shape)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
	// The counter's last digit is 62-ary: ids after a carry still differ.
	a.n.Store(1<<64 - 2)
	if x, y := a.next(), a.next(); x == y || !shape.MatchString(x) || !shape.MatchString(y) {
		t.Fatalf("ids at the counter's end: %q, %q", x, y)
	}
}

// The access log's client_ip is the peer's address, whatever
// X-Forwarded-For says, unless the peer is a trusted proxy: then it is the
// address the proxy forwarded.
func TestAccessLogClientIP(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		want    string
	}{
		{"no trusted proxy: the peer", nil, "203.0.113.7:4242", "203.0.113.7"},
		{"no trusted proxy: an IPv6 peer", nil, "[2001:db8::1]:4242", "2001:db8::1"},
		{"a trusted proxy: the client it forwards", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "10.1.2.3:4242", "198.51.100.9"},
		{"an untrusted peer with trusted proxies: the peer", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "203.0.113.7:4242", "203.0.113.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			metrics, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			ping := func(r gin.IRoutes) { r.GET("/ping", func(c *gin.Context) { c.Status(http.StatusNoContent) }) }
			e, err := NewServer(ServerOptions{Logger: zap.New(core), Metrics: metrics, Tracing: noop.NewTracerProvider(), TrustedProxies: tt.trusted}, ping)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/ping", nil)
			req.RemoteAddr = tt.peer
			req.Header.Set("X-Forwarded-For", "198.51.100.9")
			e.ServeHTTP(httptest.NewRecorder(), req)
			lines := logs.FilterMessage("request").All()
			if len(lines) != 1 {
				t.Fatalf("%d access-log lines, want 1", len(lines))
			}
			if got := lines[0].ContextMap()["client_ip"]; got != tt.want {
				t.Errorf("client_ip = %v, want %s", got, tt.want)
			}
		})
	}
}
