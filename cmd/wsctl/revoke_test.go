package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorded is what the fake API server saw of one request.
type recorded struct {
	method, escapedPath, rawQuery, authorization string
}

// fakeAPI is an httptest server that records every request and answers
// status with body.
type fakeAPI struct {
	URL  string
	mu   sync.Mutex
	reqs []recorded
}

func newFakeAPI(t *testing.T, status int, body string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")})
		f.mu.Unlock()
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

// segments splits an escaped path and unescapes each segment, so that an
// id holding "/" is seen as one segment or not at all.
func segments(t *testing.T, escaped string) []string {
	t.Helper()
	var out []string
	for _, s := range strings.Split(strings.TrimPrefix(escaped, "/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil {
			t.Fatalf("segment %q: %v", s, err)
		}
		out = append(out, u)
	}
	return out
}

const callerJWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"

func TestRevoke(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "caller.jwt")
	if err := os.WriteFile(tokenFile, []byte("  "+callerJWT+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		args      []string // after "revoke"; --server is appended
		env       map[string]string
		wantPath  []string // unescaped segments
		wantQuery url.Values
	}{
		{"session", []string{"session", "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "sessions", "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G"}, url.Values{}},
		{"user", []string{"user", "user_alice"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "users", "user_alice", "sessions"}, url.Values{}},
		{"tenant", []string{"tenant", "acme"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "tenants", "acme", "sessions"}, url.Values{}},
		{"session in another tenant", []string{"session", "wsess_x", "--tenant", "acme"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "sessions", "wsess_x"}, url.Values{"tenantId": {"acme"}}},
		{"user in another tenant", []string{"user", "user_carol", "--tenant", "acme"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "users", "user_carol", "sessions"}, url.Values{"tenantId": {"acme"}}},
		{"token from --token-file wins over WSCTL_TOKEN", []string{"user", "user_alice", "--token-file", tokenFile}, map[string]string{"WSCTL_TOKEN": "other"},
			[]string{"v1", "widget", "users", "user_alice", "sessions"}, url.Values{}},
		{"odd user id", []string{"user", "a/b c?d#e%f"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "users", "a/b c?d#e%f", "sessions"}, url.Values{}},
		{"odd tenant id", []string{"tenant", "../admin"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "tenants", "../admin", "sessions"}, url.Values{}},
		{"odd --tenant", []string{"user", "u", "--tenant", "a&tenantId=b c"}, map[string]string{"WSCTL_TOKEN": callerJWT},
			[]string{"v1", "widget", "users", "u", "sessions"}, url.Values{"tenantId": {"a&tenantId=b c"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, http.StatusNoContent, "")
			args := append(append([]string{"revoke"}, tc.args...), "--server", api.URL+"/")
			stdout, stderr, err := wsctl(t, tc.env, args...)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			reqs := api.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.method != http.MethodDelete {
				t.Errorf("method %s, want DELETE", r.method)
			}
			if got := segments(t, r.escapedPath); !slices.Equal(got, tc.wantPath) {
				t.Errorf("path %s = segments %q, want %q", r.escapedPath, got, tc.wantPath)
			}
			q, err := url.ParseQuery(r.rawQuery)
			if err != nil || !equalValues(q, tc.wantQuery) {
				t.Errorf("query %q = %v, want %v", r.rawQuery, q, tc.wantQuery)
			}
			if r.authorization != "Bearer "+callerJWT {
				t.Errorf("Authorization = %q, want Bearer and the caller token, trimmed", r.authorization)
			}
			if !strings.Contains(stdout, "revoked "+tc.args[0]) {
				t.Errorf("stdout = %q, want a confirmation", stdout)
			}
			if strings.Contains(stdout+stderr, callerJWT) {
				t.Error("the caller token was printed")
			}
		})
	}
}

func TestRevokeFailures(t *testing.T) {
	t.Parallel()
	const forbidden = `{"code":"forbidden","message":"revoking sessions requires the admin role","requestId":"req_1"}`
	token := map[string]string{"WSCTL_TOKEN": callerJWT}
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		env      map[string]string
		args     []string
		sent     bool     // whether a request should reach the server
		wantErrs []string // substrings of the error
	}{
		{"no caller token", 204, "", nil, []string{"session", "wsess_x"}, false, []string{"WSCTL_TOKEN", "--token-file"}},
		{"empty WSCTL_TOKEN", 204, "", map[string]string{"WSCTL_TOKEN": " \n"}, []string{"session", "wsess_x"}, false, []string{"WSCTL_TOKEN"}},
		{"missing --token-file", 204, "", token, []string{"session", "wsess_x", "--token-file", "/nonexistent/caller.jwt"}, false, []string{"caller.jwt"}},
		{"403 with the server's message", 403, forbidden, token, []string{"session", "wsess_x"}, true, []string{"403", "revoking sessions requires the admin role"}},
		{"503", 503, `{"code":"dependency_unavailable","message":"revocation store unavailable","requestId":"r"}`, token, []string{"user", "u"}, true, []string{"503", "revocation store unavailable"}},
		{"200 is not 204", 200, `{}`, token, []string{"user", "u"}, true, []string{"200"}},
		{"--tenant with tenant", 204, "", token, []string{"tenant", "acme", "--tenant", "demo"}, false, []string{"--tenant"}},
		{"unknown kind", 204, "", token, []string{"incident", "inc_1"}, false, []string{`"incident"`}},
		// --server is appended: without this check it became the id, and
		// the caller token went to the default server.
		{"a flag where the id belongs", 204, "", token, []string{"user"}, false, []string{"usage"}},
		{"flags before the kind", 204, "", token, []string{"--tenant", "acme", "session", "wsess_x"}, false, []string{"--tenant"}},
		{"unknown flag", 204, "", token, []string{"session", "wsess_x", "--force"}, false, []string{"force"}},
		{"a stray argument before a flag", 204, "", token, []string{"session", "wsess_x", "extra", "--server", "https://prod.invalid"}, false, []string{"unexpected argument"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.status, tc.body)
			args := append(append([]string{"revoke"}, tc.args...), "--server", api.URL)
			stdout, stderr, err := wsctl(t, tc.env, args...)
			if err == nil {
				t.Fatalf("err = nil; stdout %q", stdout)
			}
			for _, want := range tc.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %q, want it to contain %q", err, want)
				}
			}
			if n := len(api.requests()); (n == 1) != tc.sent {
				t.Errorf("%d requests reached the server, want sent = %v", n, tc.sent)
			}
			if strings.Contains(stdout, "revoked") {
				t.Errorf("stdout = %q after a failure", stdout)
			}
			if strings.Contains(err.Error()+stdout+stderr, callerJWT) {
				t.Error("the caller token was printed")
			}
		})
	}

	t.Run("server unreachable", func(t *testing.T) {
		// A port nothing listens on: a server's, once it is closed.
		closed := httptest.NewServer(http.NotFoundHandler())
		addr := closed.URL
		closed.Close()
		if _, _, err := wsctl(t, token, "revoke", "session", "wsess_x", "--server", addr); err == nil {
			t.Error("err = nil with no server")
		}
	})
}

func equalValues(a, b url.Values) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
