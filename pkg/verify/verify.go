// Package verify validates widget session tokens locally: the library the
// widget edge and the API gateway embed, so that accepting a token costs a
// signature check and a map lookup rather than a call to the minting
// service.
//
// A Verifier checks, cheapest first, the wst_<env>_ prefix, the size, the
// three segments, the header (typ, an algorithm that must match the key's,
// no header that points at a key), then the signature, then the claims
// (iss, aud, every required claim, lifetime, exp/nbf/iat with a leeway), and
// last the revocation checker it is given. Every rejection wraps one of the
// sentinel errors, and no error text quotes the token.
//
// It imports jwx, the standard library and this module's token and jwks
// packages only: an edge that embeds it gets no HTTP framework, logger or
// Redis client with it (TestImportGraph holds this). Revocation, which does
// need Redis, is an interface the caller implements.
package verify

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// Defaults and bounds of Config and tokens.
const (
	// DefaultLeeway absorbs clock skew between the minter and a verifier.
	DefaultLeeway = 30 * time.Second
	// DefaultMaxLifetime is the longest exp - iat accepted: the maximum
	// session lifetime of the public API, enforced again here so that a
	// minter bug or a stolen signing path cannot make a token that lives
	// for years.
	DefaultMaxLifetime = 24 * time.Hour
	// MaxTokenSize bounds a token in bytes. Ours are about 600; the bound
	// keeps a junk token from costing more than a small one.
	MaxTokenSize = 8 << 10
)

// b64 is the base64url of JWS, unpadded and strict: a signature has one
// encoding only, so a token cannot be altered without changing its bytes.
var b64 = base64.RawURLEncoding.Strict()

// sigSize is the size of a signature of either algorithm: 64 bytes for
// Ed25519, and r||s of 32 bytes each for ES256.
const sigSize = 64

// sigB64Len is the length of a base64url-encoded signature.
var sigB64Len = b64.EncodedLen(sigSize)

// Config holds what a Verifier expects of a token.
type Config struct {
	// Env is the environment of accepted tokens: token.EnvLive or
	// token.EnvTest.
	Env string
	// Issuer is the required iss.
	Issuer string
	// Audience is the required aud.
	Audience string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway: two machines' clocks are never exactly in step.
	Leeway time.Duration
	// MaxLifetime bounds exp - iat. Zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Verifier validates session tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	keys    KeySource
	rev     RevocationChecker
	headers headerCache
	pubs    keyCache
}

// New returns a Verifier of tokens that cfg describes, with keys from keys
// and revocations from rev. rev is required: pass NoRevocation to opt out,
// in tests and tools only.
func New(cfg Config, keys KeySource, rev RevocationChecker) (*Verifier, error) {
	switch {
	case !token.ValidEnv(cfg.Env):
		return nil, fmt.Errorf("verify: invalid environment %q (want %s or %s)", cfg.Env, token.EnvLive, token.EnvTest)
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("verify: issuer and audience are required")
	case cfg.Leeway < 0 || cfg.MaxLifetime < 0:
		return nil, errors.New("verify: negative leeway or maximum lifetime")
	case keys == nil:
		return nil, errors.New("verify: a key source is required")
	case rev == nil:
		return nil, errors.New("verify: a revocation checker is required (NoRevocation, in tests and tools only)")
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, keys: keys, rev: rev}, nil
}

// Verify validates tok and returns its claims. ctx bounds the key lookup,
// which may fetch the key set when tok names a key not seen yet.
//
// The order is deliberate. Everything that needs no key (prefix, size,
// segments, header, base64, JSON syntax of the payload) comes first, so
// junk costs microseconds and never makes the key source fetch. The claims
// are judged only once the signature holds, so a forger learns nothing
// from which check failed. Revocation comes last: it may be the one check
// that depends on another system.
func (v *Verifier) Verify(ctx context.Context, tok string) (*token.Claims, error) {
	if len(tok) > MaxTokenSize {
		return nil, errTooLarge
	}
	compact, err := token.Unwrap(v.cfg.Env, tok)
	if err != nil {
		if errors.Is(err, token.ErrWrongEnvironment) {
			return nil, ErrWrongEnvironment
		}
		return nil, errNoPrefix
	}
	hseg, rest, _ := strings.Cut(compact, ".")
	pseg, sseg, _ := strings.Cut(rest, ".")
	if hseg == "" || pseg == "" || sseg == "" || strings.IndexByte(sseg, '.') >= 0 {
		return nil, errSegments
	}

	hdr, known := v.headers.get(hseg)
	if !known {
		if hdr, err = parseHeader(hseg); err != nil {
			return nil, err
		}
	}
	var sig [sigSize]byte
	if len(sseg) != sigB64Len {
		return nil, errSignatureB64
	}
	if n, err := b64.Decode(sig[:], []byte(sseg)); err != nil || n != sigSize {
		return nil, errSignatureB64
	}

	// One buffer, on the stack for any token the minter makes: first
	// the decoded payload, then (once that is a string) the signing input.
	var stack [2048]byte
	buf := stack[:]
	if n := len(hseg) + 1 + len(pseg); n > len(buf) {
		buf = make([]byte, n)
	}
	n, err := b64.Decode(buf, []byte(pseg))
	if err != nil {
		return nil, errPayloadB64
	}
	c := new(token.Claims)
	mask, claimsErr := decodeClaims(string(buf[:n]), c)
	if claimsErr == errPayloadJSON {
		return nil, claimsErr
	}

	key, err := v.keys.Key(ctx, hdr.kid)
	if err != nil {
		return nil, sourceError(err)
	}
	if key == nil {
		return nil, ErrUnknownKey
	}
	pub := v.pubs.get(hdr.kid, key)
	switch {
	case pub.err != nil:
		return nil, pub.err
	case pub.alg != hdr.alg:
		// The algorithm is the key's; the header only repeats it.
		return nil, errAlgMismatch
	}
	input := buf[:copy(buf, compact[:len(hseg)+1+len(pseg)])]
	if !pub.verify(input, &sig) {
		return nil, errSignature
	}
	if !known {
		v.headers.put(hseg, hdr)
	}

	if claimsErr != nil {
		return nil, claimsErr
	}
	if err := v.checkClaims(c, mask); err != nil {
		return nil, err
	}
	revoked, err := v.rev.IsRevoked(c)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrRevocationUnknown, err)
	case revoked:
		return nil, errRevoked
	}
	return c, nil
}
