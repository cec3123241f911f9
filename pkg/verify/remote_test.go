package verify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// counting serves h and counts the requests.
func counting(h http.Handler, n *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// clock is a settable clock for the jwks cooldown.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestVerifyRemoteJWKS verifies through a real jwks.Cache that fetches the
// issuer's JWK Set over HTTP, through a key rotation.
func TestVerifyRemoteJWKS(t *testing.T) {
	for _, alg := range []string{token.AlgEdDSA, token.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			var opts []verifytest.Option
			if alg == token.AlgES256 {
				opts = append(opts, verifytest.WithES256())
			}
			iss := newIssuer(t, opts...)
			var fetches atomic.Int32
			srv := httptest.NewServer(counting(iss.JWKSHandler(), &fetches))
			t.Cleanup(srv.Close)
			var clk clock
			clk.ns.Store(t0.UnixNano())
			cache, err := jwks.New(srv.URL+"/.well-known/jwks.json", jwks.Options{AllowInsecureHTTP: true, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			v, err := verify.New(iss.Config(), cache, verify.NoRevocation)
			if err != nil {
				t.Fatal(err)
			}
			wantFetches := func(want int32) {
				t.Helper()
				if got := fetches.Load(); got != want {
					t.Fatalf("%d fetches of the JWKS, want %d", got, want)
				}
			}

			// Junk never reaches the key source: no fetch for any of it.
			old := iss.Mint(token.Claims{})
			h, p, _ := split(t, old)
			for _, junk := range []string{
				"", "garbage", old[:40], old + "x",
				token.Wrap(token.EnvTest, h+"."+p+".AAAA"),
				token.Wrap(token.EnvTest, h+".not-json."+split3(t, old)),
				iss.MintRaw(map[string]any{"alg": "none", "kid": "k", "typ": token.Type}, []byte("{}")),
			} {
				if _, err := v.Verify(context.Background(), junk); err == nil {
					t.Fatal("junk verified")
				}
			}
			wantFetches(0)

			wantOK(t, v, old)
			wantFetches(1)
			for range 10 {
				wantOK(t, v, old)
			}
			wantFetches(1)

			// Rotation: the server publishes a new key that signs from
			// now on. The first token naming it makes the cache fetch
			// once (its cooldown has passed) and then verifies.
			clk.Advance(jwks.DefaultMinRefreshInterval + time.Second)
			if _, err := iss.Rotate(); err != nil {
				t.Fatal(err)
			}
			next := iss.Mint(token.Claims{})
			wantOK(t, v, next)
			wantFetches(2)
			wantOK(t, v, next)
			wantOK(t, v, old) // the old key is still published
			wantFetches(2)

			// A made-up kid within the cooldown: one miss, no fetch.
			forged := iss.Header()
			forged["kid"] = "made-up"
			wantErr(t, v, iss.MintRaw(forged, mustJSON(t, iss.Claims(token.Claims{}))), verify.ErrUnknownKey)
			wantFetches(2)
		})
	}
}

func split3(t *testing.T, tok string) string { _, _, s := split(t, tok); return s }

func TestVerifyRemoteJWKSUnavailable(t *testing.T) {
	iss := newIssuer(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	cache, err := jwks.New(srv.URL, jwks.Options{AllowInsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(iss.Config(), cache, verify.NoRevocation)
	if err != nil {
		t.Fatal(err)
	}
	err = wantErr(t, v, iss.Mint(token.Claims{}), verify.ErrKeysUnavailable)
	if !errors.Is(err, jwks.ErrUnavailable) {
		t.Errorf("error %v does not wrap the cache's", err)
	}
}

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

	static, err := verify.NewStaticKeys(set.PublicSet())
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

// TestVerifyConcurrent runs Verify from many goroutines over a remote JWKS
// while the issuer rotates, for the race detector: the header and key
// caches are written while others read them.
func TestVerifyConcurrent(t *testing.T) {
	iss := newIssuer(t)
	cache, err := jwks.New(iss.Server(t), jwks.Options{AllowInsecureHTTP: true, MinRefreshInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	revoked := iss.Mint(token.Claims{})
	revokedSID := wantOK(t, iss.Verifier(t, nil), revoked).SessionID
	var mu sync.RWMutex
	set := map[string]bool{revokedSID: true}
	v, err := verify.New(iss.Config(), cache, verify.RevocationFunc(func(c *token.Claims) (bool, error) {
		mu.RLock()
		defer mu.RUnlock()
		return set[c.SessionID], nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	toks := []string{iss.Mint(token.Claims{})}
	for range 3 {
		if _, err := iss.Rotate(); err != nil {
			t.Fatal(err)
		}
		toks = append(toks, iss.Mint(token.Claims{Subject: "user_rotated"}))
	}
	bad := iss.Mint(token.Claims{Audience: "other"})

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g+i)%len(toks)]
				if _, err := v.Verify(context.Background(), tok); err != nil {
					errs <- fmt.Errorf("valid token: %w", err)
					return
				}
				if _, err := v.Verify(context.Background(), revoked); !errors.Is(err, verify.ErrRevoked) {
					errs <- fmt.Errorf("revoked token: %v", err)
					return
				}
				if _, err := v.Verify(context.Background(), bad); !errors.Is(err, verify.ErrInvalidClaims) {
					errs <- fmt.Errorf("bad token: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// noIncidents says every incident exists: these tests are about tokens.
type noIncidents struct{}

func (noIncidents) Warm(context.Context, string, string) error { return nil }

// unlimited is a mint limiter that allows everything.
type unlimited struct{}

func (unlimited) Allow(context.Context, string) (bool, time.Duration, error) { return true, 0, nil }
