package keys

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// A Set file holds secrets, so every error message built here names a key
// by its kid (or its position when it has none) and by public facts such as
// kty, crv and alg, and never quotes a value from the file: an error ends up
// in logs, and a log line must not be enough to mint tokens.

// setDoc is a JWK Set as it sits in a file. The keys stay raw so that each
// one is parsed on its own and an error can name the key it is about, and
// so that AppendToFile can write the existing keys back untouched.
type setDoc struct {
	Keys []json.RawMessage `json:"keys"`
}

// keyProbe reads only the public labels of a JWK, to name it in errors
// before the key itself has been parsed.
type keyProbe struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
}

// privateKey is one validated signing key: exactly one of ed and ec is set.
type privateKey struct {
	kid string
	alg string
	ed  ed25519.PrivateKey
	ec  *ecdsa.PrivateKey
	pub jwk.Key // the public JWK: kty, kid, alg, use and public params only
}

// parseSetFile parses the JWK Set in data and validates every key in it
// (see checkKey) and that kids are present and unique. An empty set is
// valid here; whether that is acceptable is the caller's call.
func parseSetFile(data []byte) ([]privateKey, error) {
	var doc setDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		// encoding/json reports positions and types, never values.
		return nil, fmt.Errorf("keys: not a JWK Set: %w", err)
	}
	keys := make([]privateKey, 0, len(doc.Keys))
	seen := make(map[string]bool, len(doc.Keys))
	for i, raw := range doc.Keys {
		var probe keyProbe
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, fmt.Errorf("keys: key #%d: not a JWK: %w", i, err)
		}
		label := fmt.Sprintf("key #%d", i)
		if probe.Kid != "" {
			label = fmt.Sprintf("key %q", probe.Kid)
		}
		// Refuse the key types we never sign with before parsing them, so
		// a wrong file fails with the real reason rather than a parse error.
		switch probe.Kty {
		case jwa.RSA().String():
			return nil, fmt.Errorf("keys: %s: RSA keys are not supported (want Ed25519 or P-256)", label)
		case jwa.OctetSeq().String():
			return nil, fmt.Errorf("keys: %s: symmetric (oct) keys are not supported (want Ed25519 or P-256)", label)
		}
		key, err := jwk.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: invalid JWK: %w", label, err)
		}
		pk, err := checkKey(label, key)
		if err != nil {
			return nil, err
		}
		if seen[pk.kid] {
			return nil, fmt.Errorf("keys: %s: duplicate kid", label)
		}
		seen[pk.kid] = true
		keys = append(keys, pk)
	}
	return keys, nil
}

// checkKey validates one JWK as a signing key and returns it ready to use.
// The key must be private, carry a kid, be Ed25519 or P-256, and any "alg"
// or "use" it declares must agree with that: the algorithm is a property of
// the key, so a file cannot make an Ed25519 key sign as anything but EdDSA.
func checkKey(label string, key jwk.Key) (privateKey, error) {
	kid, _ := key.KeyID()
	if kid == "" {
		return privateKey{}, fmt.Errorf("keys: %s: missing kid", label)
	}
	kty := key.KeyType()
	if kty != jwa.OKP() && kty != jwa.EC() {
		return privateKey{}, fmt.Errorf("keys: %s: key type %q is not supported (want Ed25519 or P-256)", label, kty)
	}
	if err := key.Validate(); err != nil {
		return privateKey{}, fmt.Errorf("keys: %s: invalid key: %w", label, err)
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || !private {
		return privateKey{}, fmt.Errorf("keys: %s: not a private key (the file must hold private keys)", label)
	}

	var raw any
	if err := jwk.Export(key, &raw); err != nil {
		return privateKey{}, fmt.Errorf("keys: %s: invalid key: %w", label, err)
	}
	pk := privateKey{kid: kid}
	var pubRaw any
	var sigAlg jwa.SignatureAlgorithm
	switch priv := raw.(type) {
	case ed25519.PrivateKey:
		// jwx has checked, while exporting, that "x" belongs to "d".
		pk.alg, sigAlg, pk.ed, pubRaw = token.AlgEdDSA, jwa.EdDSA(), priv, priv.Public()
	case *ecdsa.PrivateKey:
		if priv.Curve != elliptic.P256() {
			return privateKey{}, fmt.Errorf("keys: %s: curve %s is not supported (want Ed25519 or P-256)", label, priv.Curve.Params().Name)
		}
		ec, err := consistentECDSA(priv)
		if err != nil {
			return privateKey{}, fmt.Errorf("keys: %s: %w", label, err)
		}
		pk.alg, sigAlg, pk.ec, pubRaw = token.AlgES256, jwa.ES256(), ec, &ec.PublicKey
	default:
		var crv jwa.EllipticCurveAlgorithm
		_ = key.Get("crv", &crv) // only to say which curve was refused
		return privateKey{}, fmt.Errorf("keys: %s: %s key on curve %q is not supported (want Ed25519 or P-256)", label, kty, crv)
	}

	if alg, ok := key.Algorithm(); ok && alg.String() != pk.alg {
		return privateKey{}, fmt.Errorf("keys: %s: alg %q contradicts the key type (want %s)", label, alg, pk.alg)
	}
	if use, ok := key.KeyUsage(); ok && use != useSig {
		return privateKey{}, fmt.Errorf("keys: %s: use %q is not %q", label, use, useSig)
	}

	// The published key is built from the raw public key rather than from
	// key.PublicKey(), which copies every field of the private JWK: only
	// kty, kid, alg, use and the public parameters are ever published.
	pub, err := jwk.Import(pubRaw)
	if err != nil {
		return privateKey{}, fmt.Errorf("keys: %s: public key: %w", label, err)
	}
	if err := setHeaders(pub, kid, sigAlg); err != nil {
		return privateKey{}, err
	}
	pk.pub = pub
	return pk, nil
}

// errKeyMismatch says that a P-256 key's "d" and its "x"/"y" do not belong
// together. jwx does not check this for EC keys, and such a key would sign
// tokens that no verifier accepts.
var errKeyMismatch = errors.New(`"d" does not match "x" and "y"`)

// consistentECDSA rebuilds priv from its scalar alone, so the public point
// is derived rather than trusted, and checks it against the one in the file.
func consistentECDSA(priv *ecdsa.PrivateKey) (*ecdsa.PrivateKey, error) {
	d, err := priv.Bytes()
	if err != nil {
		return nil, errKeyMismatch
	}
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil || !ec.PublicKey.Equal(&priv.PublicKey) {
		return nil, errKeyMismatch
	}
	return ec, nil
}
