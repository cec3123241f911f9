package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/devidp"
)

// readmeBody is the request body of the README's quickstart.
const readmeBody = `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`

// TestEmbeddedDefault follows the README's quickstart against the real
// run with no settings at all, then verifies the minted token the way a
// third party would: with nothing but the published JWKS and jwx.
func TestEmbeddedDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin := devToken(t, s, "demo", "user_alice", "admin")

	r := s.mint(t, admin, readmeBody)
	if r.status != http.StatusCreated {
		t.Fatalf("mint: status %d, want 201; body %s\nlog:\n%s", r.status, r.body, s.log)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	var sess createSessionResponse
	if err := json.Unmarshal(r.body, &sess); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sess.SessionID, "wsess_") {
		t.Errorf("sessionId = %q, want wsess_ prefix", sess.SessionID)
	}
	if want := "https://widget.causeflow.ai/embed?session=" + sess.SessionID + "&tenant=demo"; sess.WidgetURL != want {
		t.Errorf("widgetUrl = %q, want %q", sess.WidgetURL, want)
	}

	t.Run("viewer is forbidden", func(t *testing.T) {
		r := s.mint(t, devToken(t, s, "demo", "user_alice", "viewer"), readmeBody)
		if r.status != http.StatusForbidden || r.code() != "forbidden" {
			t.Errorf("viewer: %d %s, want 403 forbidden", r.status, r.body)
		}
	})
	t.Run("user of another tenant is not found", func(t *testing.T) {
		r := s.mint(t, admin, `{"userId": "user_carol"}`)
		if r.status != http.StatusNotFound || r.code() != "user_not_found" {
			t.Errorf("user_carol from demo: %d %s, want 404 user_not_found", r.status, r.body)
		}
	})
	t.Run("no token is unauthorized", func(t *testing.T) {
		r := s.do(t, http.MethodPost, s.public+"/v1/widget/sessions",
			map[string]string{"Content-Type": "application/json"}, readmeBody)
		if r.status != http.StatusUnauthorized || r.code() != "unauthorized" {
			t.Errorf("no token: %d %s, want 401 unauthorized", r.status, r.body)
		}
	})

	t.Run("token verifies against the published JWKS", func(t *testing.T) {
		jr := s.get(t, s.public+"/.well-known/jwks.json")
		if jr.status != http.StatusOK {
			t.Fatalf("JWKS: status %d, body %s", jr.status, jr.body)
		}
		set, err := jwk.Parse(jr.body)
		if err != nil {
			t.Fatalf("jwk.Parse(JWKS): %v", err)
		}
		compact, ok := strings.CutPrefix(sess.SessionToken, "wst_test_")
		if !ok {
			t.Fatalf("sessionToken does not start with wst_test_")
		}
		tok, err := jwt.Parse([]byte(compact), jwt.WithKeySet(set),
			jwt.WithIssuer("https://sessions.causeflow.ai"), jwt.WithAudience("causeflow-widget"))
		if err != nil {
			t.Fatalf("jwt.Parse with the published JWKS: %v", err)
		}
		claim := func(name string) any {
			var v any
			if err := tok.Get(name, &v); err != nil {
				t.Errorf("claim %q: %v", name, err)
			}
			return v
		}
		for name, want := range map[string]any{
			"sub": "user_alice", "tid": "demo", "sid": sess.SessionID, "jti": sess.SessionID,
			"inc": "inc_EXAMPLE_01JX", "scope": "widget",
		} {
			if got := claim(name); got != want {
				t.Errorf("claim %s = %v, want %v", name, got, want)
			}
		}
		exp, _ := tok.Expiration()
		iat, _ := tok.IssuedAt()
		if got := exp.UTC().Format(time.RFC3339); got != sess.ExpiresAt {
			t.Errorf("exp = %s, expiresAt = %s: must be equal", got, sess.ExpiresAt)
		}
		if d := exp.Sub(iat); d != 8*time.Hour {
			t.Errorf("exp - iat = %v, want the default 8h", d)
		}
		// The same check must refuse a token whose payload was changed.
		parts := strings.Split(compact, ".")
		forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"user_bob"}`)) + "." + parts[2]
		if _, err := jwt.Parse([]byte(forged), jwt.WithKeySet(set)); err == nil {
			t.Error("a token with a changed payload verified")
		}
	})

	t.Run("internal listener", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz"} {
			if r := s.get(t, s.internal+path); r.status != http.StatusOK {
				t.Errorf("internal %s: status %d, want 200; body %s", path, r.status, r.body)
			}
		}
		m := s.get(t, s.internal+"/metrics")
		if m.status != http.StatusOK {
			t.Fatalf("internal /metrics: status %d", m.status)
		}
		for _, line := range []string{
			`widget_sessions_mints_total{result="created"} 1`,
			`widget_sessions_mints_total{result="forbidden"} 1`,
			`widget_sessions_mints_total{result="user_not_found"} 1`,
		} {
			if !strings.Contains(string(m.body), line+"\n") {
				t.Errorf("/metrics lacks %q", line)
			}
		}
	})
	t.Run("public listener serves no internals", func(t *testing.T) {
		for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
			if r := s.get(t, s.public+path); r.status != http.StatusNotFound {
				t.Errorf("public %s: status %d, want 404", path, r.status)
			}
		}
	})
}

// TestDevIssuerMatchesConfig keeps config's copy of the dev identity
// provider's issuer equal to devidp.Issuer, as internal/config promises: a
// mismatch would make every dev token a 401.
func TestDevIssuerMatchesConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Caller.Issuer != devidp.Issuer || cfg.Caller.Audience != devidp.Audience {
		t.Errorf("config's dev issuer/audience = %q/%q, devidp's = %q/%q",
			cfg.Caller.Issuer, cfg.Caller.Audience, devidp.Issuer, devidp.Audience)
	}
}

// TestConfigTable: -config-table prints config.MarkdownTable() and starts
// nothing.
func TestConfigTable(t *testing.T) {
	t.Parallel()
	var stdout strings.Builder
	stderr := newLogBuffer()
	err := run(t.Context(), []string{"widget-sessions", "-config-table"},
		func(string) string { return "" }, &stdout, stderr)
	if err != nil {
		t.Fatalf("run -config-table = %v; stderr %s", err, stderr)
	}
	if got, want := stdout.String(), config.MarkdownTable(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(stdout.String(), "| `WIDGET_ENV` |") {
		t.Error("the table lacks WIDGET_ENV")
	}
	if strings.Contains(stderr.String(), "listening") {
		t.Errorf("-config-table started a listener: %s", stderr)
	}
}
