package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/directory/directorytest"
)

// testIDP is an identity provider of the test's own: an ES256 key made
// with jwx, whose public set an httptest server publishes.
type testIDP struct {
	issuer string
	key    jwk.Key // private, with kid and alg
	public jwk.Set
}

func newTestIDP(t *testing.T, kid string) *testIDP {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	return &testIDP{issuer: "https://idp.test.invalid/", key: key, public: set}
}

// serve publishes the public set; it returns the JWKS URL.
func (p *testIDP) serve(t *testing.T) string {
	t.Helper()
	body, err := json.Marshal(p.public)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// token signs a caller JWT in the shape the server's defaults read.
func (p *testIDP) token(t *testing.T, tenant, sub string, roles ...string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewBuilder().Issuer(p.issuer).Audience([]string{"widget-sessions"}).
		Subject(sub).IssuedAt(now).Expiration(now.Add(time.Hour)).
		Claim("tid", tenant).Claim("roles", roles).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), p.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// generateKey runs `wsctl keys generate --out file` and returns the kid it
// printed.
func generateKey(t *testing.T, file string) string {
	t.Helper()
	out, errOut, err := wsctl(t, nil, "keys", "generate", "--out", file)
	if err != nil {
		t.Fatalf("wsctl keys generate: %v\n%s", err, errOut)
	}
	return strings.TrimSpace(out)
}

// privateDs returns the "d" member of every key in a JWK Set file.
func privateDs(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []struct{ D string } }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, k := range doc.Keys {
		if k.D == "" {
			t.Fatalf("a key in %s has no d", file)
		}
		ds = append(ds, k.D)
	}
	return ds
}

// jwksKIDs fetches the public JWKS and returns its kids.
func jwksKIDs(t *testing.T, s *testServer) map[string]bool {
	t.Helper()
	r := s.get(t, s.public+"/.well-known/jwks.json")
	if r.status != http.StatusOK {
		t.Fatalf("JWKS: status %d", r.status)
	}
	set, err := jwk.Parse(r.body)
	if err != nil {
		t.Fatalf("jwk.Parse(JWKS): %v", err)
	}
	kids := map[string]bool{}
	for i := range set.Len() {
		k, _ := set.Key(i)
		kid, _ := k.KeyID()
		kids[kid] = true
		if priv, err := jwk.IsPrivateKey(k); err != nil || priv {
			t.Errorf("JWKS key %q is private (or unreadable: %v)", kid, err)
		}
	}
	return kids
}

// headerKID returns the kid in the JOSE header of a session token.
func headerKID(t *testing.T, sessionToken string) string {
	t.Helper()
	kid := tokenKID(sessionToken)
	if kid == "" {
		t.Fatalf("session token without a readable kid")
	}
	return kid
}

// tokenKID returns the kid in the JOSE header of a session token, or "".
func tokenKID(sessionToken string) string {
	_, compact, _ := strings.Cut(strings.TrimPrefix(sessionToken, "wst_"), "_")
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(compact, ".")[0])
	if err != nil {
		return ""
	}
	var hdr struct{ Kid string }
	_ = json.Unmarshal(h, &hdr)
	return hdr.Kid
}

// directoryServer serves dir over the HTTP directory protocol and counts
// requests that carry exactly "Bearer <token>".
func directoryServer(t *testing.T, data, token string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	dir, err := directory.ParseFile([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var authorized atomic.Int64
	h := directorytest.Handler(dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &authorized
}

const testDirectory = `{"tenants": {"t_prod": {"users": ["u_1", "u_2"]}}}`

// TestProductionWiring runs with everything real but the environment:
// a key file of two keys from wsctl, an identity provider's JWKS over
// HTTP and a remote user directory.
func TestProductionWiring(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "keys.jwks.json")
	first := generateKey(t, keyFile)
	second := generateKey(t, keyFile)
	if first == "" || second == "" || first == second {
		t.Fatalf("wsctl printed kids %q and %q", first, second)
	}
	idp := newTestIDP(t, "idp-key-1")
	dirToken := "dirtoken-CANARY-" + rand.Text()
	dirSrv, dirAuthorized := directoryServer(t, testDirectory, dirToken)

	s := startServer(t, map[string]string{
		"WIDGET_ENV":             "test",
		"WIDGET_SIGNING_KEYS":    keyFile,
		"WIDGET_SIGNING_KID":     second,
		"WIDGET_CALLER_JWKS":     idp.serve(t),
		"WIDGET_CALLER_ISSUER":   idp.issuer,
		"WIDGET_DIRECTORY":       dirSrv.URL,
		"WIDGET_DIRECTORY_TOKEN": dirToken,
		"WIDGET_LOG_LEVEL":       "debug",
	})
	if s.env["WIDGET_DEV_IDP_KEY"] != "" {
		t.Fatal("the harness set up a dev identity provider for a real one")
	}
	if r := s.get(t, s.internal+"/readyz"); r.status != http.StatusOK {
		t.Errorf("/readyz: %d %s, want 200 once the IdP JWKS has loaded", r.status, r.body)
	}

	caller := idp.token(t, "t_prod", "admin_1", "member")
	sess := s.mintCreated(t, caller, `{"userId": "u_1"}`)
	if got := headerKID(t, sess.SessionToken); got != second {
		t.Errorf("token kid = %q, want the active (second) kid %q", got, second)
	}
	if kids := jwksKIDs(t, s); !kids[first] || !kids[second] || len(kids) != 2 {
		t.Errorf("JWKS kids = %v, want exactly %q and %q", kids, first, second)
	}
	if dirAuthorized.Load() == 0 {
		t.Error("the directory never saw the configured bearer token")
	}

	t.Run("unknown user of the remote directory", func(t *testing.T) {
		if r := s.mint(t, caller, `{"userId": "u_nobody"}`); r.status != http.StatusNotFound || r.code() != "user_not_found" {
			t.Errorf("%d %s, want 404 user_not_found", r.status, r.body)
		}
	})
	t.Run("caller token of an unknown IdP kid", func(t *testing.T) {
		stranger := newTestIDP(t, "idp-key-unknown")
		stranger.issuer = idp.issuer
		r := s.mint(t, stranger.token(t, "t_prod", "admin_1", "admin"), `{"userId": "u_1"}`)
		if r.status != http.StatusUnauthorized || r.code() != "unauthorized" {
			t.Errorf("%d %s, want 401 unauthorized", r.status, r.body)
		}
	})
	t.Run("caller token with the IdP's kid but another key", func(t *testing.T) {
		forger := newTestIDP(t, "idp-key-1")
		forger.issuer = idp.issuer
		r := s.mint(t, forger.token(t, "t_prod", "admin_1", "admin"), `{"userId": "u_1"}`)
		if r.status != http.StatusUnauthorized {
			t.Errorf("%d %s, want 401", r.status, r.body)
		}
	})
	t.Run("directory down is 503, not 404", func(t *testing.T) {
		dirSrv.Close()
		// u_2 was never asked for, so no remembered answer can hide the outage.
		r := s.mint(t, caller, `{"userId": "u_2"}`)
		if r.status != http.StatusServiceUnavailable || r.code() != "dependency_unavailable" {
			t.Errorf("%d %s, want 503 dependency_unavailable", r.status, r.body)
		}
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})

	s.stop(t)
	log := s.log.String()
	if !strings.Contains(log, "dependency error") {
		t.Errorf("the directory outage was not logged:\n%s", log)
	}
	secrets := map[string]string{
		"the directory token":         dirToken,
		"the caller token":            caller,
		"the session token":           sess.SessionToken,
		"the session token signature": sess.SessionToken[strings.LastIndex(sess.SessionToken, ".")+1:],
	}
	for i, d := range privateDs(t, keyFile) {
		secrets[fmt.Sprintf("private key #%d (d)", i)] = d
	}
	assertNotInLog(t, log, secrets)
}
