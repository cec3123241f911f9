package directory_test

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

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/directory/directorytest"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// upstream is a test directory server that counts the requests it gets.
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

func status(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) })
}

// clock is a settable Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func newHTTP(t *testing.T, base string, opts directory.HTTPOptions) *directory.HTTP {
	t.Helper()
	h, err := directory.NewHTTP(base, opts)
	if err != nil {
		t.Fatalf("NewHTTP(%q): %v", base, err)
	}
	return h
}

// wantUnavailable checks that err is a DependencyUnavailable *widget.Error
// and that the answer that came with it is not a "no".
func wantUnavailable(t *testing.T, exists bool, err error) {
	t.Helper()
	var we *widget.Error
	if !errors.As(err, &we) || we.Code != widget.CodeDependencyUnavailable {
		t.Fatalf("error = %v, want a *widget.Error with code %s", err, widget.CodeDependencyUnavailable)
	}
	if we.Message != "user directory unavailable" || we.Err == nil {
		t.Errorf("error = %#v, want the fixed message and a cause", we)
	}
	if exists {
		t.Errorf("exists = true alongside an error")
	}
}

func TestHTTPUnavailable(t *testing.T) {
	hang := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	// Followed, this redirect would end in a 200: "the user exists".
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	cases := []struct {
		name    string
		handler http.Handler
	}{
		{"500", status(http.StatusInternalServerError)},
		{"502", status(http.StatusBadGateway)},
		{"503", status(http.StatusServiceUnavailable)},
		{"401, a wrong token", status(http.StatusUnauthorized)},
		{"403", status(http.StatusForbidden)},
		{"400", status(http.StatusBadRequest)},
		{"204", status(http.StatusNoContent)},
		{"redirect, not followed", redirect},
		{"timeout", hang},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newUpstream(t, tc.handler)
			h := newHTTP(t, srv.URL, directory.HTTPOptions{Timeout: 50 * time.Millisecond})
			exists, err := h.UserExists(t.Context(), "demo", "user_alice")
			wantUnavailable(t, exists, err)
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		h := newHTTP(t, "http://"+addr, directory.HTTPOptions{})
		exists, err := h.UserExists(t.Context(), "demo", "user_alice")
		wantUnavailable(t, exists, err)
	})
	t.Run("caller's context already done", func(t *testing.T) {
		srv := newUpstream(t, status(http.StatusOK))
		h := newHTTP(t, srv.URL, directory.HTTPOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		exists, err := h.UserExists(ctx, "demo", "user_alice")
		wantUnavailable(t, exists, err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want it to wrap context.Canceled", err)
		}
		if n := srv.requests.Load(); n != 0 {
			t.Errorf("%d requests for a caller already gone, want 0", n)
		}
	})
}

func TestHTTPRequest(t *testing.T) {
	type seen struct{ path, accept, auth string }
	var mu sync.Mutex
	var got []seen
	srv := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.URL.EscapedPath(), r.Header.Get("Accept"), r.Header.Get("Authorization")})
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

	t.Run("headers", func(t *testing.T) {
		h := newHTTP(t, srv.URL, directory.HTTPOptions{Token: "s3cret"})
		if _, err := h.UserExists(t.Context(), "demo", "user_alice"); err != nil {
			t.Fatal(err)
		}
		if s := last(); s.accept != "application/json" || s.auth != "Bearer s3cret" {
			t.Errorf("Accept %q, Authorization %q; want application/json, Bearer s3cret", s.accept, s.auth)
		}
		h = newHTTP(t, srv.URL, directory.HTTPOptions{})
		if _, err := h.UserExists(t.Context(), "demo", "user_alice"); err != nil {
			t.Fatal(err)
		}
		if s := last(); s.auth != "" {
			t.Errorf("Authorization %q without a token, want none", s.auth)
		}
	})

	// Each id must stay one path segment whatever it holds.
	paths := []struct {
		base, tenant, user, want string
	}{
		{srv.URL, "demo", "user_alice", "/tenants/demo/users/user_alice"},
		{srv.URL + "/", "demo", "user_alice", "/tenants/demo/users/user_alice"},
		{srv.URL + "/api/v1", "demo", "user_alice", "/api/v1/tenants/demo/users/user_alice"},
		{srv.URL + "/api/v1/", "demo", "user_alice", "/api/v1/tenants/demo/users/user_alice"},
		{srv.URL, "demo", "../x", "/tenants/demo/users/..%2Fx"},
		{srv.URL, "demo", "../../admin", "/tenants/demo/users/..%2F..%2Fadmin"},
		{srv.URL, "demo", "a/b", "/tenants/demo/users/a%2Fb"},
		{srv.URL, "demo", "a%2Fb", "/tenants/demo/users/a%252Fb"},
		{srv.URL, "demo", "a?b#c", "/tenants/demo/users/a%3Fb%23c"},
		{srv.URL, "demo", "a;b", "/tenants/demo/users/a%3Bb"},
		{srv.URL, "demo", "ünï", "/tenants/demo/users/%C3%BCn%C3%AF"},
		{srv.URL, "t/x", "u", "/tenants/t%2Fx/users/u"},
	}
	for _, tc := range paths {
		t.Run("path "+tc.base[len(srv.URL):]+" "+tc.tenant+" "+tc.user, func(t *testing.T) {
			h := newHTTP(t, tc.base, directory.HTTPOptions{})
			if _, err := h.UserExists(t.Context(), tc.tenant, tc.user); err != nil {
				t.Fatal(err)
			}
			if s := last(); s.path != tc.want {
				t.Errorf("request path %q, want %q", s.path, tc.want)
			}
		})
	}

	t.Run("dot segments are not sent", func(t *testing.T) {
		h := newHTTP(t, srv.URL, directory.HTTPOptions{})
		before := srv.requests.Load()
		for _, id := range []string{".", "..", ""} {
			for _, k := range [][2]string{{"demo", id}, {id, "user_alice"}} {
				if ok, err := h.UserExists(t.Context(), k[0], k[1]); ok || err != nil {
					t.Errorf("UserExists(%q, %q) = %v, %v; want false, nil", k[0], k[1], ok, err)
				}
			}
		}
		if n := srv.requests.Load() - before; n != 0 {
			t.Errorf("%d requests sent, want 0", n)
		}
	})
}

func TestHTTPTokenNeverInErrors(t *testing.T) {
	const token = "s3cret-token"
	srv := newUpstream(t, status(http.StatusInternalServerError))
	h := newHTTP(t, srv.URL, directory.HTTPOptions{Token: token})
	_, err := h.UserExists(t.Context(), "demo", "user_alice")
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("error = %v, want one that does not contain the token", err)
	}
	_, err = directory.NewHTTP(srv.URL, directory.HTTPOptions{Token: token + "\r\nX-Evil: 1"})
	if err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("NewHTTP with a bad token: error = %v, want one that does not contain the token", err)
	}
}

func TestNewHTTPErrorsRedactPassword(t *testing.T) {
	_, err := directory.NewHTTP("ftp://user:hunter2@directory.internal", directory.HTTPOptions{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error = %v, want one without the password", err)
	}
}

func TestNewHTTPRejects(t *testing.T) {
	cases := []struct {
		name, base string
		opts       directory.HTTPOptions
	}{
		{"not a URL", "http://[::1", directory.HTTPOptions{}},
		{"other scheme", "ftp://directory.internal", directory.HTTPOptions{}},
		{"no scheme", "directory.internal", directory.HTTPOptions{}},
		{"no host", "http:///tenants", directory.HTTPOptions{}},
		{"query", "http://directory.internal?x=1", directory.HTTPOptions{}},
		{"fragment", "http://directory.internal#x", directory.HTTPOptions{}},
		{"negative timeout", "http://directory.internal", directory.HTTPOptions{Timeout: -1}},
		{"negative positive TTL", "http://directory.internal", directory.HTTPOptions{PositiveTTL: -1}},
		{"negative negative TTL", "http://directory.internal", directory.HTTPOptions{NegativeTTL: -1}},
		{"negative max entries", "http://directory.internal", directory.HTTPOptions{MaxEntries: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if h, err := directory.NewHTTP(tc.base, tc.opts); err == nil {
				t.Errorf("NewHTTP(%q) = %v, want an error", tc.base, h)
			}
		})
	}
}

// TestHTTPOverHandler checks the statuses of directorytest.Handler as the
// adapter reads them, including a failing directory behind it.
func TestHTTPOverHandler(t *testing.T) {
	failing := failingDirectory{errors.New("database down")}
	srv := newUpstream(t, directorytest.Handler(failing))
	h := newHTTP(t, srv.URL, directory.HTTPOptions{})
	exists, err := h.UserExists(t.Context(), "demo", "user_alice")
	wantUnavailable(t, exists, err)
}

type failingDirectory struct{ err error }

func (f failingDirectory) UserExists(context.Context, string, string) (bool, error) {
	return false, f.err
}
