package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// TestVerifyMinterToken verifies tokens of the real minting path
// (session.Minter signing with a keys.Ring) three ways: in process through
// the ring, from a static copy of its keys, and from its JWKS over HTTP.
func TestVerifyMinterToken(t *testing.T) {
	dir, err := directory.ParseFile([]byte(`{"tenants":{"acme":{"users":["user_carol"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewRing(set)
	cfg := verify.Config{Env: token.EnvLive, Issuer: "https://sessions.example", Audience: "widget", Now: at(t0.Add(time.Minute))}
	m, err := session.New(session.Config{
		Env: cfg.Env, Issuer: cfg.Issuer, Audience: cfg.Audience,
		Directory: dir, Signer: ring, Now: at(t0), Incidents: noIncidents{}, Limiter: unlimited{},
	})
	if err != nil {
		t.Fatal(err)
	}
	caller := widget.Caller{Subject: "backend", Tenant: "acme", Roles: []string{widget.RoleAdmin}}
	sess, err := m.Mint(context.Background(), caller, widget.SessionRequest{UserID: "user_carol", IncidentID: "inc_7", TTL: widget.DefaultTTL})
	if err != nil {
		t.Fatal(err)
	}

	published, _ := ring.JWKS()
	list, err := jwks.Parse(published)
	if err != nil {
		t.Fatal(err)
	}
	static, err := verify.NewStaticKeys(list...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body, _ := ring.JWKS()
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	remote, err := jwks.New(srv.URL, jwks.Options{AllowInsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}

	for name, src := range map[string]verify.KeySource{
		"ring":   verify.KeyFunc(ring.PublicKey),
		"static": static,
		"jwks":   remote,
	} {
		t.Run(name, func(t *testing.T) {
			v, err := verify.New(cfg, src, verify.NoRevocation)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 { // the second and third take the cached paths
				c := wantOK(t, v, sess.Token)
				want := token.Claims{
					Issuer: cfg.Issuer, Audience: cfg.Audience, Subject: "user_carol", Tenant: "acme",
					SessionID: sess.ID, ID: sess.ID, IssuedAt: sess.IssuedAt.Unix(), NotBefore: sess.IssuedAt.Unix(),
					Expiry: sess.ExpiresAt.Unix(), Incident: "inc_7", Scope: token.Scope, IssuedAtMs: c.IssuedAtMs,
				}
				if *c != want || c.IssuedAtMs/1000 != c.IssuedAt {
					t.Fatalf("claims = %+v, want %+v", *c, want)
				}
			}
			wantErr(t, v, "wst_test_"+sess.Token[len("wst_live_"):], verify.ErrWrongEnvironment)
		})
	}

	// The ring follows a swap: a key dropped from it stops verifying.
	v, err := verify.New(cfg, verify.KeyFunc(ring.PublicKey), verify.NoRevocation)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, v, sess.Token)
	next, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	ring.Swap(next)
	wantErr(t, v, sess.Token, verify.ErrUnknownKey)
}

// noIncidents says every incident exists: these tests are about tokens.
type noIncidents struct{}

func (noIncidents) Warm(context.Context, string, string) error { return nil }

// unlimited is a mint limiter that allows everything.
type unlimited struct{}

func (unlimited) Allow(context.Context, string) (bool, time.Duration, error) { return true, 0, nil }

func wantOK(t *testing.T, v *verify.Verifier, tok string) *token.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

func wantErr(t *testing.T, v *verify.Verifier, tok string, want error) {
	t.Helper()
	if c, err := v.Verify(context.Background(), tok); !errors.Is(err, want) {
		t.Fatalf("Verify = %+v, %v; want %v", c, err, want)
	}
}
