package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/internal/devidp"
	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/pkg/jwks"
)

// TestCreateSessionUnauthorized sends credentials that must all get 401
// with a WWW-Authenticate challenge and no echo of the token.
func TestCreateSessionUnauthorized(t *testing.T) {
	f := newFixture(t)
	otherIDP, err := devidp.LoadOrCreate(filepath.Join(t.TempDir(), "other.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	otherKeyToken, err := otherIDP.Token(devidp.TokenRequest{Tenant: "demo", Subject: "admin_dana", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	_, impostor, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := f.idp.KeyID()
	claims := func(edit func(map[string]any)) map[string]any {
		c := callerClaims()
		edit(c)
		return c
	}
	past := time.Now().Add(-2 * time.Hour)
	tests := []struct {
		name          string
		authorization string
	}{
		{"no header", ""},
		{"Bearer with nothing", "Bearer"},
		{"Bearer and a space", "Bearer  "},
		{"Basic", "Basic dXNlcjpwYXNzd29yZA=="},
		{"token without scheme", f.callerToken(t, "demo", "admin_dana", "admin")},
		{"garbage token", "Bearer not-a-jwt"},
		{"garbage three parts", "Bearer aaaa.bbbb.cccc"},
		{"signed by another key (unknown kid)", "Bearer " + otherKeyToken},
		{"signed by another key (same kid)", "Bearer " + forge(t, impostor, kid, callerClaims())},
		{"signature of another token", "Bearer " + swapSignature(f.callerToken(t, "demo", "a", "admin"), f.callerToken(t, "demo", "b", "admin"))},
		{"expired", "Bearer " + forge(t, f.idpKey, kid, claims(func(c map[string]any) {
			c["iat"], c["nbf"], c["exp"] = past.Unix(), past.Unix(), past.Add(time.Hour).Unix()
		}))},
		{"no exp", "Bearer " + forge(t, f.idpKey, kid, claims(func(c map[string]any) { delete(c, "exp") }))},
		{"wrong audience", "Bearer " + forge(t, f.idpKey, kid, claims(func(c map[string]any) { c["aud"] = []string{"another-api"} }))},
		{"wrong issuer", "Bearer " + forge(t, f.idpKey, kid, claims(func(c map[string]any) { c["iss"] = "https://evil.example" }))},
		{"no tenant", "Bearer " + forge(t, f.idpKey, kid, claims(func(c map[string]any) { delete(c, "tid") }))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := mintCount(t, f.reg, "created")
			resp := f.do(t, f.mintRequest(t, tt.authorization, `{"userId":"user_alice"}`))
			e := checkError(t, resp, http.StatusUnauthorized, "unauthorized")
			if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", h)
			}
			_, tok, _ := strings.Cut(tt.authorization, " ")
			for _, part := range append([]string{tok}, strings.Split(tok, ".")...) {
				if len(part) >= 8 && strings.Contains(string(resp.Body), part) {
					t.Errorf("body %s echoes part of the token", resp.Body)
				}
			}
			if e.Field != nil {
				t.Errorf("field = %q on a 401", *e.Field)
			}
			if got := mintCount(t, f.reg, "created"); got != created {
				t.Errorf("mints_total{created} went from %v to %v", created, got)
			}
		})
	}
}

// swapSignature returns a's header and payload with b's signature.
func swapSignature(a, b string) string {
	return a[:strings.LastIndexByte(a, '.')] + b[strings.LastIndexByte(b, '.'):]
}

// TestCreateSessionForbiddenAndNotFound covers 403 (role) and 404 (user),
// and the order of checks: who you are, what you may do, what you sent,
// what exists.
func TestCreateSessionForbiddenAndNotFound(t *testing.T) {
	f := newFixture(t)
	viewer := "Bearer " + f.callerToken(t, "demo", "viewer_vic", "viewer")
	noRoles := "Bearer " + f.callerToken(t, "demo", "nobody_ned")
	admin := f.bearer(t)
	huge := `{"userId":"` + strings.Repeat("u", 17<<10) + `"}`
	tests := []struct {
		name          string
		authorization string
		body          string
		ctype         string
		status        int
		code          string
	}{
		{"viewer", viewer, `{"userId":"user_alice"}`, "", http.StatusForbidden, "forbidden"},
		{"no roles", noRoles, `{"userId":"user_alice"}`, "", http.StatusForbidden, "forbidden"},
		{"role name case", "Bearer " + f.callerToken(t, "demo", "a", "Admin"), `{"userId":"user_alice"}`, "", http.StatusForbidden, "forbidden"},
		{"unknown user", admin, `{"userId":"user_zed"}`, "", http.StatusNotFound, "user_not_found"},
		{"user of another tenant", admin, `{"userId":"user_carol"}`, "", http.StatusNotFound, "user_not_found"},
		{"acme caller, demo user", "Bearer " + f.callerToken(t, "acme", "a", "admin"), `{"userId":"user_alice"}`, "", http.StatusNotFound, "user_not_found"},
		{"viewer, invalid body", viewer, `{"userId":42,"extra":true}`, "", http.StatusForbidden, "forbidden"},
		{"viewer, not JSON", viewer, `nope`, "", http.StatusForbidden, "forbidden"},
		{"viewer, wrong media type", viewer, `{"userId":"user_alice"}`, "text/plain", http.StatusForbidden, "forbidden"},
		{"viewer, too large", viewer, huge, "", http.StatusForbidden, "forbidden"},
		{"viewer, unknown user", viewer, `{"userId":"user_zed"}`, "", http.StatusForbidden, "forbidden"},
		{"no token, invalid body", "", `{"userId":42}`, "", http.StatusUnauthorized, "unauthorized"},
		{"no token, too large", "", huge, "", http.StatusUnauthorized, "unauthorized"},
		{"no token, wrong media type", "", `{}`, "text/plain", http.StatusUnauthorized, "unauthorized"},
		{"media type before size", admin, huge, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"invalid body before user lookup", admin, `{"userId":"user_zed","ttlSeconds":0}`, "", http.StatusBadRequest, "validation_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := mintCount(t, f.reg, "created")
			req := f.mintRequest(t, tt.authorization, tt.body)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp := f.do(t, req)
			checkError(t, resp, tt.status, tt.code)
			if got := mintCount(t, f.reg, "created"); got != created {
				t.Errorf("mints_total{created} went from %v to %v", created, got)
			}
			if got := mintCount(t, f.reg, tt.code); got < 1 {
				t.Errorf("mints_total{%s} = %v, want the refusal counted", tt.code, got)
			}
		})
	}
}

// TestCreateSessionDependencyUnavailable checks that a directory that
// cannot answer, or identity-provider keys that cannot be had, are 503
// with Retry-After: never 404, never 401.
func TestCreateSessionDependencyUnavailable(t *testing.T) {
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // its address now refuses connections

	httpDirectory := func(base string) fixtureOption {
		d, err := directory.NewHTTP(base, directory.HTTPOptions{Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return withDirectory(d)
	}
	keysDown := withKeySource(func(*devidp.IDP) callerauth.KeySource {
		return keySourceFunc(func(context.Context, string) (*jwks.Key, error) {
			return nil, errors.New("jwks: fetch https://idp.example/jwks: connection refused")
		})
	})
	tests := []struct {
		name string
		opt  fixtureOption
		body string
	}{
		{"directory answers 500", httpDirectory(failing.URL), `{"userId":"user_alice"}`},
		{"directory answers 500 for an unknown user", httpDirectory(failing.URL), `{"userId":"user_zed"}`},
		{"directory refuses connections", httpDirectory(closed.URL), `{"userId":"user_alice"}`},
		{"identity provider keys unavailable", keysDown, `{"userId":"user_alice"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opt)
			resp := f.do(t, f.mintRequest(t, f.bearer(t), tt.body))
			checkError(t, resp, http.StatusServiceUnavailable, "dependency_unavailable")
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra <= 0 {
				t.Errorf("Retry-After = %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
			}
			if got := mintCount(t, f.reg, "created"); got != 0 {
				t.Errorf("mints_total{created} = %v, want 0", got)
			}
			if got := mintCount(t, f.reg, "dependency_unavailable"); got != 1 {
				t.Errorf("mints_total{dependency_unavailable} = %v, want 1", got)
			}
			// The cause is for the operators: logged under the request id.
			var logged bool
			for _, e := range f.logs.withRequestID(t, resp.Header.Get(api.HeaderRequestID)) {
				logged = logged || (e["level"] == "warn" && e["error"] != nil)
			}
			if !logged {
				t.Errorf("no warning with the cause logged under the request id; logs:\n%s", f.logs)
			}
		})
	}
}

// TestRequestID checks that every response carries an X-Request-Id, the
// client's own when it is short and plain, and that error bodies repeat it.
func TestRequestID(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		sent string // "" = none sent
		kept bool
	}{
		{"none", "", false},
		{"plain", "abc-123.X:y_Z", true},
		{"64 chars", strings.Repeat("r", 64), true},
		{"65 chars", strings.Repeat("r", 65), false},
		{"100 chars", strings.Repeat("r", 100), false},
		{"spaces", "abc 123", false},
		{"quote", `abc"123`, false},
		{"non-ASCII", "abcé", false},
	}
	kinds := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
	}{
		{"created", func(t *testing.T) *http.Request { return f.mintRequest(t, f.bearer(t), `{"userId":"user_alice"}`) }, http.StatusCreated},
		{"unauthorized", func(t *testing.T) *http.Request { return f.mintRequest(t, "", `{}`) }, http.StatusUnauthorized},
		{"validation", func(t *testing.T) *http.Request { return f.mintRequest(t, f.bearer(t), `{}`) }, http.StatusBadRequest},
		{"jwks", func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, f.URL+jwksPath, nil)
			return r
		}, http.StatusOK},
		{"no route", func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, f.URL+"/nope", nil)
			return r
		}, http.StatusNotFound},
	}
	for _, tt := range tests {
		for _, k := range kinds {
			t.Run(tt.name+"/"+k.name, func(t *testing.T) {
				req := k.req(t)
				if tt.sent != "" {
					req.Header.Set(api.HeaderRequestID, tt.sent)
				}
				resp := f.do(t, req)
				if resp.Status != k.status {
					t.Fatalf("status = %d, want %d: %s", resp.Status, k.status, resp.Body)
				}
				got := resp.Header.Get(api.HeaderRequestID)
				switch {
				case tt.kept && got != tt.sent:
					t.Errorf("X-Request-Id = %q, want the client's %q", got, tt.sent)
				case !tt.kept && !requestIDPattern.MatchString(got):
					t.Errorf("X-Request-Id = %q, want a generated req_ id in place of %q", got, tt.sent)
				}
				if resp.Status >= 400 {
					if e := checkError(t, resp, k.status, codeOf(k.status)); e.RequestID != got {
						t.Errorf("requestId = %q, header %q", e.RequestID, got)
					}
				}
			})
		}
	}
}

func codeOf(status int) string {
	return map[int]string{400: "validation_error", 401: "unauthorized", 404: "not_found"}[status]
}

// TestUnroutedRequests checks that unknown paths and methods get the same
// JSON errors as everything else.
func TestUnroutedRequests(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method, path string
		status       int
		code         string
		allow        string
	}{
		{http.MethodGet, "/nope", http.StatusNotFound, "not_found", ""},
		{http.MethodPost, "/v1/widget/session", http.StatusMethodNotAllowed, "method_not_allowed", "GET"},
		{http.MethodGet, "/v1/widget/sessions/wsess_1", http.StatusMethodNotAllowed, "method_not_allowed", "DELETE"},
		{http.MethodPost, mintPath + "/", http.StatusNotFound, "not_found", ""}, // no redirect that would resend the body
		{http.MethodGet, jwksPath + "/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/healthz", http.StatusNotFound, "not_found", ""}, // internal listener only
		{http.MethodGet, "/metrics", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, mintPath, http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodPut, mintPath, http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodDelete, mintPath, http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{http.MethodPost, jwksPath, http.StatusMethodNotAllowed, "method_not_allowed", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, f.URL+tt.path+"?token=x", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp := f.do(t, req)
			checkError(t, resp, tt.status, tt.code)
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}
