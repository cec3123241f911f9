package verify

import "errors"

// Sentinel errors, for errors.Is. Every error Verify returns wraps exactly
// one of them, so a caller can answer 401 or 503 without reading text.
//
// No error text of this package quotes the token or any part of it (not
// even the kid): errors end up in logs, and a log line must be neither a
// credential nor a way to probe one.
var (
	// ErrMalformed means the token is not a session token in form: no
	// or an unknown prefix, too large, not three base64url segments, a
	// header that is not ours (typ, alg, forbidden parameters), or a
	// payload that is not a JSON object.
	ErrMalformed = errors.New("verify: malformed token")
	// ErrWrongEnvironment means the token is of the other environment:
	// a test token in live, or the reverse.
	ErrWrongEnvironment = errors.New("verify: wrong environment")
	// ErrBadSignature means the signature does not hold under the key the
	// token names, or that key cannot sign with the token's algorithm.
	ErrBadSignature = errors.New("verify: bad signature")
	// ErrUnknownKey means no key with the token's kid is published, even
	// after the key source looked again.
	ErrUnknownKey = errors.New("verify: unknown key")
	// ErrKeysUnavailable means the key source cannot answer: no key set
	// was ever loaded, or the caller's context ended. A dependency
	// failure (503), not a verdict on the token.
	ErrKeysUnavailable = errors.New("verify: keys unavailable")
	// ErrExpired means exp is further in the past than the leeway.
	ErrExpired = errors.New("verify: expired")
	// ErrNotYetValid means nbf or iat is further in the future than the
	// leeway.
	ErrNotYetValid = errors.New("verify: not yet valid")
	// ErrInvalidClaims means a required claim is missing or ill-formed,
	// or iss, aud, scope or the lifetime (exp - iat) is not what this
	// verifier accepts.
	ErrInvalidClaims = errors.New("verify: invalid claims")
	// ErrRevoked means the session was revoked.
	ErrRevoked = errors.New("verify: revoked")
	// ErrRevocationUnknown means the revocation checker could not tell.
	// The token is refused (fail closed); a dependency failure (503).
	ErrRevocationUnknown = errors.New("verify: revocation state unknown")
)

// reason is a sentinel with a fixed explanation. Every rejection Verify
// makes itself is one of a fixed set of reasons, built once here, so a
// flood of junk tokens costs no allocation and no text can leak a token.
type reason struct {
	kind error
	msg  string
}

func (r *reason) Error() string { return r.kind.Error() + ": " + r.msg }
func (r *reason) Unwrap() error { return r.kind }

func because(kind error, msg string) error { return &reason{kind: kind, msg: msg} }

// Reasons of the checks before the signature: nothing here has looked at
// a key yet.
var (
	errTooLarge       = because(ErrMalformed, "larger than the size bound")
	errNoPrefix       = because(ErrMalformed, "not a session token")
	errSegments       = because(ErrMalformed, "not three non-empty segments")
	errHeaderB64      = because(ErrMalformed, "header is not base64url")
	errHeaderJSON     = because(ErrMalformed, "header is not a JSON object")
	errHeaderDup      = because(ErrMalformed, "duplicate header parameter")
	errHeaderType     = because(ErrMalformed, "header parameter of the wrong type")
	errTyp            = because(ErrMalformed, "typ is not "+`"wst+jwt"`)
	errAlg            = because(ErrMalformed, "alg is not EdDSA or ES256")
	errNoKID          = because(ErrMalformed, "kid missing or too long")
	errForbiddenParam = because(ErrMalformed, "forbidden header parameter (jku, x5u, jwk, x5c, crit or b64)")
	errSignatureB64   = because(ErrMalformed, "signature is not 64 base64url-encoded bytes")
	errPayloadB64     = because(ErrMalformed, "payload is not base64url")
	errPayloadJSON    = because(ErrMalformed, "payload is not a JSON object")
)

// Reasons of the key and signature checks.
var (
	errAlgMismatch = because(ErrBadSignature, "alg does not match the key's algorithm")
	errSignature   = because(ErrBadSignature, "signature does not verify")
	errKeyUnusable = because(ErrBadSignature, "the key cannot verify session tokens")
)

// Reasons of the claim checks, which run only once the signature holds.
var (
	errIssuer      = because(ErrInvalidClaims, "wrong iss")
	errAudience    = because(ErrInvalidClaims, "wrong aud")
	errScope       = because(ErrInvalidClaims, "wrong scope")
	errSessionID   = because(ErrInvalidClaims, "sid is not a session id")
	errJTI         = because(ErrInvalidClaims, "jti differs from sid")
	errEmptyClaim  = because(ErrInvalidClaims, "sub or tid is empty")
	errNumericDate = because(ErrInvalidClaims, "iat, nbf or exp out of range")
	errLifetime    = because(ErrInvalidClaims, "exp - iat is not positive")
	errIssuedAtMs  = because(ErrInvalidClaims, "iat_ms is not within iat's second")
	errTooLong     = because(ErrInvalidClaims, "exp - iat exceeds the maximum lifetime")
	errExpired     = because(ErrExpired, "exp is past")
	errNotBefore   = because(ErrNotYetValid, "nbf is in the future")
	errIssuedAt    = because(ErrNotYetValid, "iat is in the future")
	errRevoked     = because(ErrRevoked, "session revoked")
)
