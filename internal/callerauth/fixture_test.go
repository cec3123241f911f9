package callerauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/widget"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

const (
	issuer   = "https://idp.example.com/"
	audience = "widget-sessions"
)

// keySourceFunc is a KeySource made of a function.
type keySourceFunc func(ctx context.Context, kid string) (*jwks.Key, error)

func (f keySourceFunc) Key(ctx context.Context, kid string) (*jwks.Key, error) { return f(ctx, kid) }

// fixture holds one signing key per algorithm family, and the provider's
// published set of their public halves.
type fixture struct {
	now   time.Time
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	ed    ed25519.PrivateKey
	other ed25519.PrivateKey // same kid as ed in some tests, never published
	keys  map[string]*jwks.Key
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC), keys: map[string]*jwks.Key{}}
	var err error
	if f.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if f.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, f.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, f.other, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	f.publish(t, "rsa-1", f.rsa.Public(), "")
	f.publish(t, "rsa-pinned", f.rsa.Public(), "RS256") // a key whose provider pinned its alg
	f.publish(t, "ec-1", f.ec.Public(), "")
	f.publish(t, "ed-1", f.ed.Public(), "")
	return f
}

func (f *fixture) publish(t *testing.T, kid string, pub crypto.PublicKey, alg string) {
	t.Helper()
	f.keys[kid] = &jwks.Key{ID: kid, Alg: alg, Public: pub}
}

func (f *fixture) source() callerauth.KeySource {
	return keySourceFunc(func(_ context.Context, kid string) (*jwks.Key, error) {
		if k, ok := f.keys[kid]; ok {
			return k, nil
		}
		return nil, jwks.ErrUnknownKey
	})
}

func (f *fixture) authenticator(t *testing.T, src callerauth.KeySource, algs ...string) *callerauth.Authenticator {
	t.Helper()
	a, err := callerauth.New(callerauth.Config{
		Issuer:     issuer,
		Audience:   audience,
		Algorithms: algs,
		Now:        func() time.Time { return f.now },
	}, src)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// claims returns a valid claim set; tests edit their copy.
func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss":   issuer,
		"aud":   []string{audience, "other-api"},
		"sub":   "user_alice",
		"tid":   "acme",
		"roles": []string{"admin", "member"},
		"iat":   f.now.Add(-time.Minute),
		"nbf":   f.now.Add(-time.Minute),
		"exp":   f.now.Add(time.Hour),
	}
}

// sign returns a compact JWS of claims with the given protected headers
// (kid among them), signed with a raw key so that jwx adds no header of
// its own choosing.
func sign(t *testing.T, alg jwa.SignatureAlgorithm, key any, headers, claims map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder()
	for k, v := range claims {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	for k, v := range headers {
		if err := hdr.Set(k, v); err != nil {
			t.Fatalf("header %s: %v", k, err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// unsigned returns "<header>.<payload>.<sig>" with the given raw parts.
func unsigned(header, payload, sig string) string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload)) + "." + sig
}

// selfSignedCert returns the DER of a certificate for key, to put in an
// x5c header.
func selfSignedCert(t *testing.T, key ed25519.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func without(m map[string]any, key string) map[string]any {
	delete(m, key)
	return m
}

func with(m map[string]any, key string, v any) map[string]any {
	m[key] = v
	return m
}

// assertError checks the code and cause of err, and that neither its text
// nor its message repeats the token or any part of it.
func assertError(t *testing.T, err error, code string, cause error, header string) {
	t.Helper()
	if err == nil {
		t.Fatal("Authenticate succeeded, want an error")
	}
	var we *widget.Error
	if !errors.As(err, &we) {
		t.Fatalf("error %T is not a *widget.Error", err)
	}
	if we.Code != code {
		t.Fatalf("code = %q, want %q (%v)", we.Code, code, err)
	}
	if !errors.Is(err, cause) {
		t.Fatalf("error = %v, want one wrapping %v", err, cause)
	}
	_, token, _ := strings.Cut(header, " ")
	texts := []string{err.Error(), we.Message}
	for _, part := range append([]string{token}, strings.Split(token, ".")...) {
		if len(part) < 6 {
			continue // too short to be a meaningful leak, and likely to match by chance
		}
		for _, text := range texts {
			if strings.Contains(text, part) {
				t.Fatalf("error text %q contains part of the token", text)
			}
		}
	}
}
