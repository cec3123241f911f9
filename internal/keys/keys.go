// Package keys holds the keys that sign widget session tokens: it generates
// them, loads them from a JWK Set file of private keys, signs the compact JWS
// of a token with the active one and publishes every key's public half as a
// JWK Set for verifiers.
//
// A Set is immutable once built; a Ring holds the current Set and lets a
// reload swap in a new one without disturbing requests that are signing
// with the old one. This is what makes the rotation in ARCHITECTURE.md
// ("publish the next key, make it active, drop the old one") possible
// without a restart.
package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/segmentio/ksuid"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// useSig is the JWK "use" of every key here: they sign, nothing else.
const useSig = "sig"

// Generate returns a new private JWK for alg, token.AlgEdDSA (an Ed25519
// OKP key) or token.AlgES256 (a P-256 EC key), with "kid", "alg" and
// "use": "sig" set.
//
// The kid is a KSUID: random enough that two generated keys never collide,
// URL-safe, and it carries the second it was made, so an operator following
// the rotation procedure can tell from the kid alone which key is the newer
// one and how long the old one has been around.
func Generate(alg string) (jwk.Key, error) {
	var raw any
	var sigAlg jwa.SignatureAlgorithm
	switch alg {
	case token.AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate Ed25519 key: %w", err)
		}
		raw, sigAlg = priv, jwa.EdDSA()
	case token.AlgES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generate P-256 key: %w", err)
		}
		raw, sigAlg = priv, jwa.ES256()
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q (want %s or %s)", alg, token.AlgEdDSA, token.AlgES256)
	}

	kid, err := ksuid.NewRandom()
	if err != nil {
		return nil, fmt.Errorf("keys: generate kid: %w", err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, fmt.Errorf("keys: import generated %s key: %w", alg, err)
	}
	if err := setHeaders(key, kid.String(), sigAlg); err != nil {
		return nil, err
	}
	return key, nil
}

// setHeaders sets the kid, alg and use of key.
func setHeaders(key jwk.Key, kid string, alg jwa.SignatureAlgorithm) error {
	for _, f := range [...]struct {
		name  string
		value any
	}{
		{jwk.KeyIDKey, kid},
		{jwk.AlgorithmKey, alg},
		{jwk.KeyUsageKey, useSig},
	} {
		if err := key.Set(f.name, f.value); err != nil {
			return fmt.Errorf("keys: key %q: set %q: %w", kid, f.name, err)
		}
	}
	return nil
}
