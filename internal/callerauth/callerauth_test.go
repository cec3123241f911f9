package callerauth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/widget"
	"github.com/lestrrat-go/jwx/v3/jwa"
)

func TestKeySourceFailures(t *testing.T) {
	f := newFixture(t)
	token := sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1"}, f.claims())
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantErr  error
	}{
		{"never loaded", jwks.ErrUnavailable, widget.CodeDependencyUnavailable, callerauth.ErrKeysUnavailable},
		{"unavailable wrapped", errors.Join(errors.New("fetch failed"), jwks.ErrUnavailable), widget.CodeDependencyUnavailable, callerauth.ErrKeysUnavailable},
		{"unknown after refresh", jwks.ErrUnknownKey, widget.CodeUnauthorized, callerauth.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := keySourceFunc(func(context.Context, string) (*jwks.Key, error) { return nil, tt.err })
			_, err := f.authenticator(t, src).Authenticate(context.Background(), "Bearer "+token)
			assertError(t, err, tt.wantCode, tt.wantErr, "Bearer "+token)
		})
	}
}

func TestRejectedHeaderDoesNotReachKeySource(t *testing.T) {
	// A refused alg must be refused before the key lookup: otherwise any
	// junk token could trigger refreshes of the provider's key set.
	f := newFixture(t)
	called := false
	src := keySourceFunc(func(context.Context, string) (*jwks.Key, error) {
		called = true
		return nil, jwks.ErrUnknownKey
	})
	token := sign(t, jwa.HS256(), []byte("0123456789abcdef0123456789abcdef"), map[string]any{"kid": "x"}, f.claims())
	if _, err := f.authenticator(t, src).Authenticate(context.Background(), "Bearer "+token); err == nil {
		t.Fatal("HS256 token accepted")
	}
	if called {
		t.Fatal("key source consulted for a token with a refused alg")
	}
}

func TestNewConfig(t *testing.T) {
	src := keySourceFunc(func(context.Context, string) (*jwks.Key, error) { return nil, jwks.ErrUnknownKey })
	tests := []struct {
		name    string
		cfg     callerauth.Config
		src     callerauth.KeySource
		wantErr bool
	}{
		{"defaults", callerauth.Config{Issuer: issuer, Audience: audience}, src, false},
		{"explicit list", callerauth.Config{Issuer: issuer, Audience: audience, Algorithms: []string{"PS256", "ES384", "Ed25519"}}, src, false},
		{"no issuer", callerauth.Config{Audience: audience}, src, true},
		{"no audience", callerauth.Config{Issuer: issuer}, src, true},
		{"no key source", callerauth.Config{Issuer: issuer, Audience: audience}, nil, true},
		{"none", callerauth.Config{Issuer: issuer, Audience: audience, Algorithms: []string{"RS256", "none"}}, src, true},
		{"NONE", callerauth.Config{Issuer: issuer, Audience: audience, Algorithms: []string{"NONE"}}, src, true},
		{"HS256", callerauth.Config{Issuer: issuer, Audience: audience, Algorithms: []string{"HS256"}}, src, true},
		{"hs512", callerauth.Config{Issuer: issuer, Audience: audience, Algorithms: []string{"ES256", "hs512"}}, src, true},
		{"unknown", callerauth.Config{Issuer: issuer, Audience: audience, Algorithms: []string{"XS256"}}, src, true},
		{"negative leeway", callerauth.Config{Issuer: issuer, Audience: audience, Leeway: -time.Second}, src, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := callerauth.New(tt.cfg, tt.src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestCustomClaimNamesAndLeeway(t *testing.T) {
	f := newFixture(t)
	a, err := callerauth.New(callerauth.Config{
		Issuer:      issuer,
		Audience:    audience,
		TenantClaim: "org_id",
		RolesClaim:  "https://example.com/roles",
		Leeway:      2 * time.Minute,
		Now:         func() time.Time { return f.now },
	}, f.source())
	if err != nil {
		t.Fatal(err)
	}
	c := f.claims()
	delete(c, "tid")
	delete(c, "roles")
	c["org_id"] = "acme"
	c["https://example.com/roles"] = []string{"member"}
	c["exp"] = f.now.Add(-90 * time.Second) // inside the wider leeway
	caller, err := a.Authenticate(context.Background(), "Bearer "+sign(t, jwa.ES256(), f.ec, map[string]any{"kid": "ec-1"}, c))
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if caller.Tenant != "acme" || !caller.HasRole(widget.RoleMember) {
		t.Fatalf("caller = %+v", caller)
	}
}

func TestConcurrentAuthenticate(t *testing.T) {
	f := newFixture(t)
	a := f.authenticator(t, f.source())
	good := "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1"}, f.claims())
	bad := "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-9"}, f.claims())
	done := make(chan error)
	for i := range 20 {
		go func() {
			h := good
			if i%2 == 1 {
				h = bad
			}
			_, err := a.Authenticate(context.Background(), h)
			if (err == nil) != (h == good) {
				done <- errors.New("wrong verdict under concurrency")
				return
			}
			done <- nil
		}()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
