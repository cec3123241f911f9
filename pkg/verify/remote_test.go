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

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
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
