// Package verifytest lets other teams test code that accepts widget session
// tokens: an Issuer mints tokens with a fresh key, serves its JWK Set over
// HTTP, and builds a verify.Verifier that trusts it, with no minting
// service, no key file and no Redis.
//
// Like package verify, it brings no JOSE library, HTTP framework, logger
// or Redis client into the tests that use it: the standard library, and
// this module's jwks, token, verify and sessionid packages (the last with
// the KSUID library).
package verifytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

// Defaults of an Issuer and of the claims it mints. The names end in
// .invalid or say verifytest, so that a test token found anywhere else
// tells where it came from.
const (
	// DefaultIssuer is the iss of an Issuer without WithIssuer.
	DefaultIssuer = "https://sessions.verifytest.invalid"
	// DefaultAudience is the aud of an Issuer without WithAudience.
	DefaultAudience = "widget-verifytest"
	// DefaultSubject is the sub of a token minted without one.
	DefaultSubject = "user_verifytest"
	// DefaultTenant is the tid of a token minted without one.
	DefaultTenant = "tenant_verifytest"
	// DefaultTTL is the lifetime Mint gives a token without exp.
	DefaultTTL = time.Hour
)

// Issuer mints session tokens signed by keys of its own. Its methods are
// safe for concurrent use.
type Issuer struct {
	env, issuer, audience, alg string
	now                        func() time.Time

	mu   sync.Mutex
	keys []*key // every published key; the last one signs
}

type key struct {
	kid string
	alg string
	ed  ed25519.PrivateKey
	ec  *ecdsa.PrivateKey
	pub *jwks.Key // public, with kid and alg; never modified
}

// Option configures an Issuer.
type Option func(*Issuer)

// WithES256 makes the Issuer sign with P-256 keys (ES256) rather than
// Ed25519 (EdDSA).
func WithES256() Option { return func(i *Issuer) { i.alg = token.AlgES256 } }

// WithEnv sets the environment of minted tokens (default token.EnvTest).
func WithEnv(env string) Option { return func(i *Issuer) { i.env = env } }

// WithIssuer sets the iss of minted tokens (default DefaultIssuer).
func WithIssuer(iss string) Option { return func(i *Issuer) { i.issuer = iss } }

// WithAudience sets the aud of minted tokens (default DefaultAudience).
func WithAudience(aud string) Option { return func(i *Issuer) { i.audience = aud } }

// WithNow sets the clock of Mint's defaults and of Verifier (default
// time.Now), so a test can mint and verify at a fixed time.
func WithNow(now func() time.Time) Option { return func(i *Issuer) { i.now = now } }

// NewIssuer returns an Issuer with one fresh key.
func NewIssuer(t testing.TB, opts ...Option) *Issuer {
	t.Helper()
	i := &Issuer{env: token.EnvTest, issuer: DefaultIssuer, audience: DefaultAudience, alg: token.AlgEdDSA, now: time.Now}
	for _, o := range opts {
		o(i)
	}
	if !token.ValidEnv(i.env) {
		t.Fatalf("verifytest: invalid environment %q", i.env)
	}
	if _, err := i.Rotate(); err != nil {
		t.Fatal(err)
	}
	return i
}

// Rotate adds a fresh key, which signs from now on, and returns its kid.
// The previous keys stay published, as in a real rotation, so tokens they
// signed still verify.
func (i *Issuer) Rotate() (kid string, err error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("verifytest: kid: %w", err)
	}
	k := &key{kid: "verifytest-" + hex.EncodeToString(id[:]), alg: i.alg}
	k.pub = &jwks.Key{ID: k.kid, Alg: i.alg}
	switch i.alg {
	case token.AlgEdDSA:
		p, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return "", fmt.Errorf("verifytest: generate key: %w", err)
		}
		k.ed, k.pub.Public = priv, p
	default:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", fmt.Errorf("verifytest: generate key: %w", err)
		}
		k.ec, k.pub.Public = priv, &priv.PublicKey
	}
	i.mu.Lock()
	i.keys = append(i.keys, k)
	i.mu.Unlock()
	return k.kid, nil
}

func (i *Issuer) active() *key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1]
}

// KID returns the kid of the key that signs.
func (i *Issuer) KID() string { return i.active().kid }

// Alg returns the algorithm the Issuer signs with.
func (i *Issuer) Alg() string { return i.alg }

// PublicKey returns the public key that signs. It is shared: do not
// modify it.
func (i *Issuer) PublicKey() *jwks.Key { return i.active().pub }

// Config returns a verify.Config that accepts this Issuer's tokens.
func (i *Issuer) Config() verify.Config {
	return verify.Config{Env: i.env, Issuer: i.issuer, Audience: i.audience, Now: i.now}
}

// Claims returns c with every unset field filled in: iss and aud of the
// Issuer, DefaultSubject, DefaultTenant, a fresh session id as sid and jti
// (or the one of them that is set), scope, iat now, nbf = iat and
// exp = iat + DefaultTTL. Times left unset follow the ones that are set, so
// Claims{IssuedAt: future} is a token that is not yet valid, and nothing
// else.
func (i *Issuer) Claims(c token.Claims) token.Claims {
	now := i.now().Truncate(time.Second)
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Issuer, i.issuer)
	def(&c.Audience, i.audience)
	def(&c.Subject, DefaultSubject)
	def(&c.Tenant, DefaultTenant)
	def(&c.Scope, token.Scope)
	if c.SessionID == "" && c.ID == "" {
		sid, err := sessionid.New(now)
		if err != nil {
			panic(fmt.Sprintf("verifytest: session id: %v", err)) // crypto/rand failed
		}
		c.SessionID, c.ID = sid, sid
	}
	def(&c.SessionID, c.ID)
	def(&c.ID, c.SessionID)
	if c.IssuedAt == 0 {
		c.IssuedAt = now.Unix()
	}
	if c.NotBefore == 0 {
		c.NotBefore = c.IssuedAt
	}
	if c.Expiry == 0 {
		c.Expiry = c.IssuedAt + int64(DefaultTTL/time.Second)
	}
	return c
}

// Mint returns a session token of c, completed by Claims, signed by the
// active key.
func (i *Issuer) Mint(c token.Claims) string {
	payload, err := json.Marshal(i.Claims(c))
	if err != nil {
		panic(fmt.Sprintf("verifytest: marshal claims: %v", err))
	}
	return i.MintRaw(i.Header(), payload)
}

// Header returns the header Mint uses: alg, kid and typ of the active key.
// It is a new map, for a test to bend and pass to MintRaw.
func (i *Issuer) Header() map[string]any {
	k := i.active()
	return map[string]any{"alg": k.alg, "kid": k.kid, "typ": token.Type}
}

// MintRaw returns a session token of exactly header and payload, signed by
// the active key with that key's algorithm whatever header says, for
// negative tests: a header naming another alg, a payload missing a claim.
func (i *Issuer) MintRaw(header map[string]any, payload []byte) string {
	h, err := json.Marshal(header)
	if err != nil {
		panic(fmt.Sprintf("verifytest: marshal header: %v", err))
	}
	return i.MintRawBytes(h, payload)
}

// MintRawBytes is MintRaw with the header as JSON text, for headers a map
// cannot express: a repeated parameter, odd spacing.
func (i *Issuer) MintRawBytes(header, payload []byte) string {
	input := b64(header) + "." + b64(payload)
	sig, err := i.active().sign([]byte(input))
	if err != nil {
		panic(fmt.Sprintf("verifytest: sign: %v", err)) // crypto/rand failed
	}
	return token.Wrap(i.env, input+"."+b64(sig))
}

func (k *key) sign(input []byte) ([]byte, error) {
	if k.ed != nil {
		return ed25519.Sign(k.ed, input), nil
	}
	h := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64) // JWS carries r||s, 32 bytes each (RFC 7518 §3.4), not DER
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWKS returns the JWK Set of every published key, as a server would serve it.
func (i *Issuer) JWKS() []byte {
	i.mu.Lock()
	defer i.mu.Unlock()
	set := struct {
		Keys []*jwks.Key `json:"keys"`
	}{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, k.pub)
	}
	body, err := json.Marshal(set)
	if err != nil {
		panic(fmt.Sprintf("verifytest: marshal JWKS: %v", err))
	}
	return body
}

// JWKSHandler serves JWKS at any path, reflecting rotations as they happen.
func (i *Issuer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(i.JWKS())
	})
}

// Server starts an httptest server of JWKSHandler, closed when the test
// ends, and returns the URL of its JWK Set. It is plain http: give
// jwks.Options{AllowInsecureHTTP: true} to the cache that fetches it.
func (i *Issuer) Server(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(i.JWKSHandler())
	t.Cleanup(srv.Close)
	return srv.URL + "/.well-known/jwks.json"
}

// Keys returns a KeySource of the Issuer's published keys, in process.
func (i *Issuer) Keys() verify.KeySource { return verify.KeyFunc(i.lookup) }

func (i *Issuer) lookup(kid string) (*jwks.Key, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.kid == kid {
			return k.pub, true
		}
	}
	return nil, false
}

// Verifier returns a Verifier of this Issuer's tokens over Keys, with rev
// as its revocation checker; nil means verify.NoRevocation.
func (i *Issuer) Verifier(t testing.TB, rev verify.RevocationChecker) *verify.Verifier {
	t.Helper()
	if rev == nil {
		rev = verify.NoRevocation
	}
	v, err := verify.New(i.Config(), i.Keys(), rev)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
