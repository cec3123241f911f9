package incident_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
)

// upstream is a test incident server that counts the requests it gets.
type upstream struct {
	*httptest.Server
	requests atomic.Int64
}

func newUpstream(t *testing.T, h http.Handler) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func newHTTP(t *testing.T, base string, opts incident.HTTPOptions) *incident.HTTP {
	t.Helper()
	h, err := incident.NewHTTP(base, opts)
	if err != nil {
		t.Fatalf("NewHTTP(%q): %v", base, err)
	}
	return h
}

func TestHTTPContract(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T, data incidenttest.Data) incident.Source {
		srv := newUpstream(t, incidenttest.Handler(parse(t, data)))
		return newHTTP(t, srv.URL, incident.HTTPOptions{})
	})
}

func respond(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
}

func TestHTTPUnavailable(t *testing.T) {
	good := `{"id":"inc_1","title":"t","severity":"low","status":"resolved","startedAt":"2025-01-01T00:00:00Z"}`
	hang := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	// Followed, this redirect would end in a valid incident.
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			_, _ = w.Write([]byte(good))
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	cases := []struct {
		name    string
		handler http.Handler
	}{
		{"500", respond(http.StatusInternalServerError, "")},
		{"503", respond(http.StatusServiceUnavailable, "")},
		{"401, a wrong token", respond(http.StatusUnauthorized, "")},
		{"403", respond(http.StatusForbidden, "")},
		{"410", respond(http.StatusGone, "")},
		{"204", respond(http.StatusNoContent, "")},
		{"redirect, not followed", redirect},
		{"timeout", hang},
		{"empty body", respond(http.StatusOK, "")},
		{"not JSON", respond(http.StatusOK, "<html>")},
		{"unknown member", respond(http.StatusOK, strings.Replace(good, `"id"`, `"x":1,"id"`, 1))},
		{"invalid incident", respond(http.StatusOK, strings.Replace(good, `"low"`, `"sev9"`, 1))},
		{"another incident", respond(http.StatusOK, strings.Replace(good, `"inc_1"`, `"inc_2"`, 1))},
		{"another tenant", respond(http.StatusOK, strings.Replace(good, `"id"`, `"tenantId":"acme","id"`, 1))},
		{"body too large", respond(http.StatusOK, strings.Replace(good, `"t"`, `"`+strings.Repeat("x", incident.MaxBody)+`"`, 1))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newUpstream(t, tc.handler)
			h := newHTTP(t, srv.URL, incident.HTTPOptions{Timeout: 100 * time.Millisecond})
			inc, err := h.Incident(t.Context(), "demo", "inc_1")
			wantUnavailable(t, inc, err)
			if strings.Contains(err.Error(), srv.URL) || strings.Contains(err.Error(), "inc_1") {
				t.Errorf("error %q names the URL or an id", err)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		inc, err := newHTTP(t, "http://"+addr, incident.HTTPOptions{}).Incident(t.Context(), "demo", "inc_1")
		wantUnavailable(t, inc, err)
		if strings.Contains(err.Error(), "/tenants/") {
			t.Errorf("error %q names the URL", err)
		}
	})
	t.Run("caller's context already done", func(t *testing.T) {
		srv := newUpstream(t, respond(http.StatusOK, good))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		inc, err := newHTTP(t, srv.URL, incident.HTTPOptions{}).Incident(ctx, "demo", "inc_1")
		wantUnavailable(t, inc, err)
		if !errors.Is(err, context.Canceled) || srv.requests.Load() != 0 {
			t.Errorf("error %v after %d requests; want context.Canceled and none", err, srv.requests.Load())
		}
	})
	t.Run("a tenantId that matches is accepted", func(t *testing.T) {
		srv := newUpstream(t, respond(http.StatusOK, strings.Replace(good, `"id"`, `"tenantId":"demo","id"`, 1)))
		inc, err := newHTTP(t, srv.URL, incident.HTTPOptions{}).Incident(t.Context(), "demo", "inc_1")
		if err != nil || inc.Tenant != "demo" || inc.ID != "inc_1" {
			t.Errorf("Incident = %+v, %v", inc, err)
		}
	})
}

func wantUnavailable(t *testing.T, inc incident.Incident, err error) {
	t.Helper()
	if !errors.Is(err, incident.ErrUnavailable) || errors.Is(err, incident.ErrNotFound) {
		t.Fatalf("error = %v, want ErrUnavailable and not ErrNotFound", err)
	}
	if inc.ID != "" {
		t.Errorf("an incident alongside an error: %+v", inc)
	}
}

func TestHTTPRequest(t *testing.T) {
	type seen struct{ method, path, accept, auth string }
	var mu sync.Mutex
	var got []seen
	srv := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Accept"), r.Header.Get("Authorization")})
		mu.Unlock()
		w.WriteHeader(http.StatusNotFound)
	}))
	last := func() seen {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 0 {
			return seen{}
		}
		return got[len(got)-1]
	}
	notFound := func(t *testing.T, h *incident.HTTP, tenant, id string) {
		t.Helper()
		if _, err := h.Incident(t.Context(), tenant, id); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("Incident(%q, %q): %v, want ErrNotFound", tenant, id, err)
		}
	}

	t.Run("headers", func(t *testing.T) {
		notFound(t, newHTTP(t, srv.URL, incident.HTTPOptions{Token: "s3cret"}), "demo", "inc_1")
		if s := last(); s.method != http.MethodGet || s.accept != "application/json" || s.auth != "Bearer s3cret" {
			t.Errorf("request %+v; want GET, application/json, Bearer s3cret", s)
		}
		notFound(t, newHTTP(t, srv.URL, incident.HTTPOptions{}), "demo", "inc_1")
		if s := last(); s.auth != "" {
			t.Errorf("Authorization %q without a token, want none", s.auth)
		}
	})

	paths := []struct{ base, tenant, id, want string }{
		{srv.URL, "demo", "inc_1", "/tenants/demo/incidents/inc_1"},
		{srv.URL + "/", "demo", "inc_1", "/tenants/demo/incidents/inc_1"},
		{srv.URL + "/api/v1", "demo", "inc_1", "/api/v1/tenants/demo/incidents/inc_1"},
		{srv.URL, "demo", "../x", "/tenants/demo/incidents/..%2Fx"},
		{srv.URL, "demo", "a/b", "/tenants/demo/incidents/a%2Fb"},
		{srv.URL, "demo", "a%2Fb", "/tenants/demo/incidents/a%252Fb"},
		{srv.URL, "demo", "a?b#c", "/tenants/demo/incidents/a%3Fb%23c"},
		{srv.URL, "demo", "ünï", "/tenants/demo/incidents/%C3%BCn%C3%AF"},
		{srv.URL, "t/x", "u", "/tenants/t%2Fx/incidents/u"},
	}
	for _, tc := range paths {
		t.Run("path "+tc.base[len(srv.URL):]+" "+tc.tenant+" "+tc.id, func(t *testing.T) {
			notFound(t, newHTTP(t, tc.base, incident.HTTPOptions{}), tc.tenant, tc.id)
			if s := last(); s.path != tc.want {
				t.Errorf("request path %q, want %q", s.path, tc.want)
			}
		})
	}

	t.Run("dot segments are not sent", func(t *testing.T) {
		h := newHTTP(t, srv.URL, incident.HTTPOptions{})
		before := srv.requests.Load()
		for _, id := range []string{".", "..", ""} {
			notFound(t, h, "demo", id)
			notFound(t, h, id, "inc_1")
		}
		if n := srv.requests.Load() - before; n != 0 {
			t.Errorf("%d requests sent, want 0", n)
		}
	})
}

func TestHTTPSecretsNeverInErrors(t *testing.T) {
	const token = "s3cret-token"
	srv := newUpstream(t, respond(http.StatusInternalServerError, token))
	_, err := newHTTP(t, srv.URL, incident.HTTPOptions{Token: token}).Incident(t.Context(), "demo", "inc_1")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("error = %v, want one without the token", err)
	}
	if _, err := incident.NewHTTP(srv.URL, incident.HTTPOptions{Token: token + "\r\nX-Evil: 1"}); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("NewHTTP with a bad token: error = %v, want one without the token", err)
	}
	if _, err := incident.NewHTTP("ftp://user:hunter2@incidents.internal", incident.HTTPOptions{}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("NewHTTP error = %v, want one without the password", err)
	}
}

func TestNewHTTPRejects(t *testing.T) {
	cases := []struct {
		name, base string
		opts       incident.HTTPOptions
	}{
		{"not a URL", "http://[::1", incident.HTTPOptions{}},
		{"other scheme", "ftp://incidents.internal", incident.HTTPOptions{}},
		{"no scheme", "incidents.internal", incident.HTTPOptions{}},
		{"no host", "http:///tenants", incident.HTTPOptions{}},
		{"query", "http://incidents.internal?x=1", incident.HTTPOptions{}},
		{"fragment", "http://incidents.internal#x", incident.HTTPOptions{}},
		{"negative timeout", "http://incidents.internal", incident.HTTPOptions{Timeout: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := incident.NewHTTP(tc.base, tc.opts); err == nil {
				t.Errorf("NewHTTP(%q) = %v, want an error", tc.base, h)
			}
		})
	}
}

// TestHTTPOverFailingHandler: a source that fails behind the handler reads
// as unavailable, not as not found.
func TestHTTPOverFailingHandler(t *testing.T) {
	failing := sourceFunc(func(context.Context, string, string) (incident.Incident, error) {
		return incident.Incident{}, errors.New("database down")
	})
	srv := newUpstream(t, incidenttest.Handler(failing))
	inc, err := newHTTP(t, srv.URL, incident.HTTPOptions{}).Incident(t.Context(), "demo", "inc_1")
	wantUnavailable(t, inc, err)
}

// sourceFunc is a Source made of a function.
type sourceFunc func(ctx context.Context, tenant, id string) (incident.Incident, error)

func (f sourceFunc) Incident(ctx context.Context, tenant, id string) (incident.Incident, error) {
	return f(ctx, tenant, id)
}
