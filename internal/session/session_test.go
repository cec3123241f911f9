package session_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

const dirJSON = `{"tenants":{"demo":{"users":["user_alice","user_bob"]},"acme":{"users":["user_carol"]}}}`

// warmFunc is an IncidentWarmer made of a function.
type warmFunc func(ctx context.Context, tenant, id string) error

func (f warmFunc) Warm(ctx context.Context, tenant, id string) error { return f(ctx, tenant, id) }

// dirFunc is a UserDirectory made of a function, for failure cases.
type dirFunc func(ctx context.Context, tenant, user string) (bool, error)

func (f dirFunc) UserExists(ctx context.Context, tenant, user string) (bool, error) {
	return f(ctx, tenant, user)
}

func newMinter(t testing.TB, dir widget.UserDirectory, now time.Time) (*session.Minter, *keys.Ring) {
	t.Helper()
	return newLimitedMinter(t, dir, now, 1<<30)
}

// newLimitedMinter is newMinter whose tenants may mint perMinute sessions
// a minute each.
func newLimitedMinter(t testing.TB, dir widget.UserDirectory, now time.Time, perMinute int) (*session.Minter, *keys.Ring) {
	t.Helper()
	limiter, err := ratelimit.NewMemory(perMinute, time.Minute, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if dir == nil {
		f, err := directory.ParseFile([]byte(dirJSON))
		if err != nil {
			t.Fatal(err)
		}
		dir = f
	}
	set, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewRing(set)
	m, err := session.New(session.Config{
		Env: token.EnvTest, Issuer: "https://iss.example", Audience: "aud-example",
		Directory: dir, Signer: ring, Now: func() time.Time { return now }, Limiter: limiter,
		Incidents: warmFunc(func(_ context.Context, tenant, id string) error {
			switch {
			case tenant == "demo" && id == "inc_1":
				return nil
			case id == "inc_down":
				return incident.ErrUnavailable
			}
			return incident.ErrNotFound
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, ring
}

var admin = widget.Caller{Subject: "caller", Tenant: "demo", Roles: []string{widget.RoleAdmin}}

func claimsOf(t *testing.T, tok string) token.Claims {
	t.Helper()
	compact, err := token.Unwrap(token.EnvTest, tok)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("compact JWS has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c token.Claims
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMint(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 700_000_000, time.UTC)
	m, _ := newMinter(t, nil, now)
	s, err := m.Mint(context.Background(), admin, widget.SessionRequest{UserID: "user_alice", IncidentID: "inc_1", TTL: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := claimsOf(t, s.Token)
	want := token.Claims{
		Issuer: "https://iss.example", Audience: "aud-example", Subject: "user_alice", Tenant: "demo",
		SessionID: s.ID, ID: s.ID, IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Unix() + 90,
		Incident: "inc_1", Scope: token.Scope, IssuedAtMs: now.UnixMilli(),
	}
	if c != want {
		t.Fatalf("claims = %+v\nwant     %+v", c, want)
	}
	if !s.ExpiresAt.Equal(time.Unix(c.Expiry, 0)) || !s.IssuedAt.Equal(time.Unix(c.IssuedAt, 0)) {
		t.Fatalf("session times %v/%v disagree with claims", s.IssuedAt, s.ExpiresAt)
	}
	if created, err := sessionid.Time(s.ID); err != nil || !created.Equal(now.Truncate(time.Second)) {
		t.Fatalf("session id time = %v, %v; want %v", created, err, now.Truncate(time.Second))
	}
	s2, err := m.Mint(context.Background(), admin, widget.SessionRequest{UserID: "user_alice", TTL: widget.DefaultTTL})
	if err != nil {
		t.Fatal(err)
	}
	if s2.ID == s.ID {
		t.Fatal("two mints returned the same session id")
	}
	if p := mustPayload(t, s2.Token); strings.Contains(p, `"inc"`) {
		t.Fatalf("inc present without an incident: %s", p)
	}
}

func mustPayload(t *testing.T, tok string) string {
	t.Helper()
	compact, _ := token.Unwrap(token.EnvTest, tok)
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(compact, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestMintRefuses(t *testing.T) {
	unavailable := dirFunc(func(context.Context, string, string) (bool, error) {
		return false, &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "user directory unavailable"}
	})
	tests := []struct {
		name   string
		dir    widget.UserDirectory
		caller widget.Caller
		req    widget.SessionRequest
		code   string
	}{
		{"viewer", nil, widget.Caller{Tenant: "demo", Roles: []string{"viewer"}}, widget.SessionRequest{UserID: "user_alice", TTL: time.Hour}, widget.CodeForbidden},
		{"no roles", nil, widget.Caller{Tenant: "demo"}, widget.SessionRequest{UserID: "user_alice", TTL: time.Hour}, widget.CodeForbidden},
		{"no tenant", nil, widget.Caller{Roles: []string{"member"}}, widget.SessionRequest{UserID: "user_alice", TTL: time.Hour}, widget.CodeUnauthorized},
		{"unknown user", nil, admin, widget.SessionRequest{UserID: "user_zed", TTL: time.Hour}, widget.CodeUserNotFound},
		{"other tenant's user", nil, admin, widget.SessionRequest{UserID: "user_carol", TTL: time.Hour}, widget.CodeUserNotFound},
		{"ttl over max", nil, admin, widget.SessionRequest{UserID: "user_alice", TTL: widget.MaxTTL + time.Second}, widget.CodeValidation},
		{"ttl zero", nil, admin, widget.SessionRequest{UserID: "user_alice"}, widget.CodeValidation},
		{"unknown incident", nil, admin, widget.SessionRequest{UserID: "user_alice", IncidentID: "inc_nope", TTL: time.Hour}, widget.CodeIncidentNotFound},
		{"incident of another tenant", nil, widget.Caller{Tenant: "acme", Roles: []string{"admin"}}, widget.SessionRequest{UserID: "user_carol", IncidentID: "inc_1", TTL: time.Hour}, widget.CodeIncidentNotFound},
		{"directory down", unavailable, admin, widget.SessionRequest{UserID: "user_alice", TTL: time.Hour}, widget.CodeDependencyUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newMinter(t, tt.dir, time.Now())
			s, err := m.Mint(context.Background(), tt.caller, tt.req)
			if got := widget.ErrorCode(err); got != tt.code {
				t.Fatalf("Mint() error = %v (code %s); want code %s", err, got, tt.code)
			}
			if s.Token != "" || s.ID != "" {
				t.Fatalf("a refused mint returned a session: %+v", s)
			}
		})
	}
	t.Run("incident source down: minted anyway, and said", func(t *testing.T) {
		m, _ := newMinter(t, nil, time.Now())
		s, err := m.Mint(context.Background(), admin, widget.SessionRequest{UserID: "user_alice", IncidentID: "inc_down", TTL: time.Hour})
		if err != nil || s.IncidentID != "inc_down" {
			t.Fatalf("Mint() = %+v, %v; want a session carrying the incident", s, err)
		}
	})
	t.Run("member may mint", func(t *testing.T) {
		m, _ := newMinter(t, nil, time.Now())
		if _, err := m.Mint(context.Background(), widget.Caller{Tenant: "acme", Roles: []string{"member"}}, widget.SessionRequest{UserID: "user_carol", TTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("plain error passes through without a code", func(t *testing.T) {
		boom := errors.New("boom")
		m, _ := newMinter(t, dirFunc(func(context.Context, string, string) (bool, error) { return false, boom }), time.Now())
		if _, err := m.Mint(context.Background(), admin, widget.SessionRequest{UserID: "user_alice", TTL: time.Hour}); !errors.Is(err, boom) || widget.ErrorCode(err) != widget.CodeInternal {
			t.Fatalf("Mint() error = %v; want boom as an internal error", err)
		}
	})
}

// BenchmarkMint measures a whole mint in the domain (directory lookup in
// memory, claims, id, EdDSA signature) next to BenchmarkBareEd25519Sign, the
// raw cost of the one signature it cannot avoid, in the same run.
// TestMintRateLimit: a tenant past its mints of the window is refused
// (429 with Retry-After) before the directory is asked; another tenant is
// not affected.
func TestMintRateLimit(t *testing.T) {
	now := time.Now()
	asked := 0
	dir := dirFunc(func(_ context.Context, tenant, user string) (bool, error) { asked++; return true, nil })
	m, _ := newLimitedMinter(t, dir, now, 2)
	demo := widget.Caller{Subject: "backend", Tenant: "demo", Roles: []string{widget.RoleAdmin}}
	acme := widget.Caller{Subject: "backend", Tenant: "acme", Roles: []string{widget.RoleAdmin}}
	req := widget.SessionRequest{UserID: "user_alice", TTL: widget.DefaultTTL}
	for range 2 {
		if _, err := m.Mint(context.Background(), demo, req); err != nil {
			t.Fatal(err)
		}
	}
	_, err := m.Mint(context.Background(), demo, req)
	var we *widget.Error
	if !errors.As(err, &we) || we.Code != widget.CodeRateLimited || we.RetryAfter <= 0 || we.RetryAfter > time.Minute {
		t.Fatalf("third mint of the minute = %v, want rate_limited with a Retry-After within the minute", err)
	}
	if asked != 2 {
		t.Errorf("the directory was asked %d times, want 2: a refused mint asks nothing", asked)
	}
	if _, err := m.Mint(context.Background(), acme, req); err != nil {
		t.Errorf("another tenant: %v", err)
	}
}

func BenchmarkMint(b *testing.B) {
	m, _ := newMinter(b, nil, time.Now())
	req := widget.SessionRequest{UserID: "user_alice", IncidentID: "inc_1", TTL: widget.DefaultTTL}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Mint(ctx, admin, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareEd25519Sign is the baseline: one Ed25519 signature over a
// signing input of a session token's size.
func BenchmarkBareEd25519Sign(b *testing.B) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(strings.Repeat("x", 420))
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(priv, msg)
	}
}
