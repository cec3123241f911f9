package callerauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// verify checks the signature and the registered claims of a compact JWS
// and returns the token. Its errors wrap this package's sentinels only:
// jwx's own error texts are dropped, because some of them quote header
// values (a kid, an alg) and this package promises never to echo any part
// of a token.
func (a *Authenticator) verify(ctx context.Context, raw string) (jwt.Token, error) {
	if err := checkStructure(raw, a.typ); err != nil {
		return nil, err
	}
	// The key provider runs inside jwt.Parse; it keeps its own verdict
	// here so that a refused header or an unknown kid is reported as
	// such rather than as whatever jwx wraps it into.
	var keyErr error
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		alg, key, err := a.selectKey(ctx, sig.ProtectedHeaders())
		if err != nil {
			keyErr = err
			return err
		}
		sink.Key(alg, key)
		return nil
	})

	tok, err := jwt.ParseString(raw,
		jwt.WithKeyProvider(provider),
		jwt.WithContext(ctx),
		jwt.WithIssuer(a.issuer),
		jwt.WithAudience(a.audience),
		// exp is required: a caller JWT without an expiry would be a
		// permanent credential, valid for as long as the provider's key
		// is, and a leaked one could never be contained. sub is required
		// because it is who the caller is.
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithAcceptableSkew(a.leeway),
		jwt.WithClock(jwt.ClockFunc(a.now)),
	)
	if err == nil {
		return tok, nil
	}
	if keyErr != nil {
		return nil, keyErr
	}
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return nil, ErrExpired
	case errors.Is(err, jwt.TokenNotYetValidError()), errors.Is(err, jwt.InvalidIssuedAtError()):
		return nil, ErrNotYetValid
	case errors.Is(err, jwt.InvalidIssuerError()):
		return nil, ErrIssuer
	case errors.Is(err, jwt.InvalidAudienceError()):
		return nil, ErrAudience
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return nil, ErrMissingClaim
	case errors.Is(err, jws.VerificationError()):
		return nil, ErrSignature
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("%w: request ended", ErrKeysUnavailable)
	default:
		return nil, ErrMalformed
	}
}

// selectKey decides, from the protected header alone, whether the token
// may be verified at all, and with which key and algorithm. The algorithm
// is never taken on the token's word: it must be on the allow-list and fit
// the key, whose own "alg" wins when the provider set one.
func (a *Authenticator) selectKey(ctx context.Context, h jws.Headers) (jwa.SignatureAlgorithm, crypto.PublicKey, error) {
	var none jwa.SignatureAlgorithm
	// Headers that point at keys or certificates the token brings along
	// would let the token choose its own verification key; "crit" names
	// extensions we do not implement (RFC 7515 §4.1.11 says reject), and
	// "b64" changes what the signature covers.
	for _, name := range []string{jws.JWKSetURLKey, jws.X509URLKey, jws.JWKKey, jws.X509CertChainKey, jws.CriticalKey, jws.B64Key} {
		if h.Has(name) {
			return none, nil, fmt.Errorf("%w: %s", ErrHeader, name)
		}
	}
	alg, ok := h.Algorithm()
	if !ok || !a.algorithms[alg.String()] {
		return none, nil, fmt.Errorf("%w: alg is not on the allow-list", ErrAlgorithm)
	}
	kid, ok := h.KeyID()
	if !ok || kid == "" {
		return none, nil, fmt.Errorf("%w: kid is required", ErrHeader)
	}

	key, err := a.keys.Key(ctx, kid)
	if err != nil {
		return none, nil, classifyKeyError(err)
	}
	if key == nil {
		return none, nil, ErrUnknownKey
	}
	// A jwks.Key holds public keys only (a set's "use":"enc" keys are
	// never among them); its stated alg, when it has one, binds.
	if key.Alg != "" && key.Alg != alg.String() {
		return none, nil, fmt.Errorf("%w: token alg differs from the key's alg", ErrAlgorithm)
	}
	if !algorithmFitsKey(alg.String(), key.Public) {
		return none, nil, fmt.Errorf("%w: token alg does not fit the key type", ErrAlgorithm)
	}
	return alg, key.Public, nil
}

// knownAlgorithm reports whether alg is an asymmetric signature algorithm
// this package can match to a key type.
func knownAlgorithm(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "EdDSA", "Ed25519":
		return true
	}
	return false
}

// algorithmFitsKey reports whether alg can be computed with key: RSA for
// RS*/PS*, the matching NIST curve for ES*, Ed25519 for EdDSA. jwx checks
// this for jws.WithKey but not for keys handed over by a key provider.
func algorithmFitsKey(alg string, key crypto.PublicKey) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA" || alg == "Ed25519"
	}
	return false
}
