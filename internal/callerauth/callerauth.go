// Package callerauth authenticates the caller of the minting API: it reads
// the bearer JWT that the caller's identity provider issued, verifies it
// against the provider's published keys, and turns its claims into a
// widget.Caller.
//
// Every failure is a *widget.Error whose message is short and generic and
// whose cause says why for the logs. Neither ever contains the token or any
// part of it: a rejected token may still be a live credential, and error
// texts end up in logs and responses.
package callerauth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Sentinel causes, for errors.Is on the error Authenticate returns. They
// say what was wrong, never with what value.
var (
	// ErrNoCredentials means no Authorization header, or not a Bearer one.
	ErrNoCredentials = errors.New("callerauth: missing bearer token")
	// ErrMalformed means the bearer value is not a well-formed compact JWS JWT.
	ErrMalformed = errors.New("callerauth: malformed token")
	// ErrHeader means kid is missing, or a header that would let the token
	// choose its own key (jku, x5u, jwk, x5c) or change the rules (crit,
	// b64) is present.
	ErrHeader = errors.New("callerauth: missing or disallowed token header")
	// ErrAlgorithm means alg is not on the allow-list or does not fit the key.
	ErrAlgorithm = errors.New("callerauth: algorithm not allowed for the key")
	// ErrUnknownKey means the provider does not publish the token's kid.
	ErrUnknownKey = errors.New("callerauth: unknown signing key")
	// ErrKeysUnavailable means the provider's keys could not be had; the
	// token was not judged. Reported as CodeDependencyUnavailable.
	ErrKeysUnavailable = errors.New("callerauth: signing keys unavailable")
	// ErrSignature means the signature does not verify with the named key.
	ErrSignature = errors.New("callerauth: invalid signature")
	// ErrExpired means exp is past, beyond the leeway.
	ErrExpired = errors.New("callerauth: token expired")
	// ErrNotYetValid means nbf or iat is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("callerauth: token not yet valid")
	// ErrIssuer means iss is not the configured issuer.
	ErrIssuer = errors.New("callerauth: wrong issuer")
	// ErrAudience means aud does not include the configured audience.
	ErrAudience = errors.New("callerauth: wrong audience")
	// ErrMissingClaim means exp, sub or the tenant claim is absent.
	ErrMissingClaim = errors.New("callerauth: required claim missing")
	// ErrInvalidClaim means sub, tenant or roles has the wrong type or form.
	ErrInvalidClaim = errors.New("callerauth: invalid claim")
)

// Defaults of Config. The development identity provider writes its tokens
// with the same claim names.
const (
	// DefaultTenantClaim is the claim read for the tenant.
	DefaultTenantClaim = "tid"
	// DefaultRolesClaim is the claim read for the roles.
	DefaultRolesClaim = "roles"
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
)

// DefaultAlgorithms is the allow-list used when Config.Algorithms is empty.
// It is a function, not a variable, so no caller can change it for all.
func DefaultAlgorithms() []string { return []string{"RS256", "ES256", "EdDSA"} }

// maxTokenBytes bounds the work spent on a header value before any
// cryptography: real caller JWTs are a few kilobytes at most.
const maxTokenBytes = 16 << 10

// KeySource finds the identity provider's public key by kid. It returns an
// error wrapping jwks.ErrUnknownKey when the provider does not publish the
// kid; any other error means the keys cannot be had right now. *jwks.Cache
// satisfies it.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jwks.Key, error)
}

// Config says which tokens are acceptable. Issuer and Audience are
// required; the rest have defaults.
type Config struct {
	// Issuer is the exact "iss" of the identity provider.
	Issuer string
	// Audience must be among the token's "aud" values.
	Audience string
	// Algorithms is the allow-list of JWS algorithms, asymmetric only:
	// "none" and the HMAC algorithms are refused, because the verification
	// keys are public. Default DefaultAlgorithms().
	Algorithms []string
	// TenantClaim names the claim holding the caller's tenant, a
	// non-empty string. Default DefaultTenantClaim.
	TenantClaim string
	// RolesClaim names the claim holding the caller's roles: an array of
	// strings or a single string. Default DefaultRolesClaim.
	RolesClaim string
	// Leeway is the clock skew tolerated on exp, nbf and iat. Zero means
	// DefaultLeeway.
	Leeway time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// CacheTTL bounds how long a verified token is remembered (see
	// cache.go). Zero means DefaultCacheTTL; negative disables the cache.
	CacheTTL time.Duration
	// Typ, when set, is the "typ" header every token must carry, such as
	// "at+jwt" (RFC 9068). Empty: typ is not checked.
	Typ string
}

// Authenticator verifies caller JWTs. It is safe for concurrent use.
type Authenticator struct {
	issuer      string
	audience    string
	algorithms  map[string]bool
	tenantClaim string
	rolesClaim  string
	leeway      time.Duration
	now         func() time.Time
	keys        KeySource
	typ         string
	cache       *verifiedCache // nil when disabled
}

// New returns an Authenticator for cfg that takes verification keys from
// keys. It refuses a configuration that would accept unsigned or
// HMAC-signed tokens.
func New(cfg Config, keys KeySource) (*Authenticator, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("callerauth: Issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("callerauth: Audience is required")
	}
	if keys == nil {
		return nil, errors.New("callerauth: a KeySource is required")
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("callerauth: Leeway must not be negative")
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms()
	}
	a := &Authenticator{
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		algorithms:  make(map[string]bool, len(algs)),
		tenantClaim: cmp.Or(cfg.TenantClaim, DefaultTenantClaim),
		rolesClaim:  cmp.Or(cfg.RolesClaim, DefaultRolesClaim),
		leeway:      cfg.Leeway,
		now:         cfg.Now,
		keys:        keys,
		typ:         cfg.Typ,
	}
	for _, alg := range algs {
		if strings.EqualFold(alg, "none") || strings.HasPrefix(strings.ToUpper(alg), "HS") {
			// With HMAC the verification key is the signing key; ours
			// are public, so anyone could sign (the classic RS256→HS256
			// confusion). "none" is no signature at all.
			return nil, fmt.Errorf("callerauth: algorithm %q is not allowed: caller tokens must be signed with an asymmetric key", alg)
		}
		if !knownAlgorithm(alg) {
			return nil, fmt.Errorf("callerauth: unsupported algorithm %q", alg)
		}
		a.algorithms[alg] = true
	}
	if a.leeway == 0 {
		a.leeway = DefaultLeeway
	}
	if a.now == nil {
		a.now = time.Now
	}
	switch {
	case cfg.CacheTTL == 0:
		a.cache = newVerifiedCache(DefaultCacheTTL, a.now)
	case cfg.CacheTTL > 0:
		a.cache = newVerifiedCache(cfg.CacheTTL, a.now)
	}
	return a, nil
}

// Authenticate checks the value of an Authorization header, "Bearer <jwt>",
// and returns the caller the token speaks for. Errors are *widget.Error:
// CodeUnauthorized for anything wrong with the token, and
// CodeDependencyUnavailable when the provider's keys are not available,
// which is no fault of the caller. Role checks are left to the caller.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (widget.Caller, error) {
	raw, err := bearerToken(authorization)
	var key [sha256.Size]byte
	if err == nil && a.cache != nil {
		// A token in the cache was checked whole before: its shape need not
		// be read again, byte by byte, on every request that presents it.
		key = tokenKey(raw)
		if caller, ok := a.cache.get(key); ok {
			return caller, nil
		}
	}
	if err == nil {
		err = compactShape(raw)
	}
	if err != nil {
		msg := "invalid or expired token"
		if errors.Is(err, ErrNoCredentials) {
			msg = "missing bearer token"
		}
		return widget.Caller{}, unauthorized(msg, err)
	}
	tok, err := a.verify(ctx, raw)
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return widget.Caller{}, &widget.Error{
				Code:    widget.CodeDependencyUnavailable,
				Message: "identity provider keys unavailable",
				Err:     err,
			}
		}
		return widget.Caller{}, unauthorized("invalid or expired token", err)
	}
	caller, err := a.caller(tok)
	if err != nil {
		return widget.Caller{}, unauthorized("invalid or expired token", err)
	}
	if a.cache != nil {
		if exp, ok := tok.Expiration(); ok { // exp is required: always there
			a.cache.put(key, caller, exp, a.now())
		}
	}
	return caller, nil
}

// tokenKey is the cache's key for a caller token: its SHA-256, so that the
// cache never holds a token. A usual token is hashed from a stack copy:
// converting it to []byte would allocate its size on every request.
func tokenKey(raw string) [sha256.Size]byte {
	var buf [1024]byte
	if len(raw) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], raw)])
	}
	return sha256.Sum256([]byte(raw))
}

func unauthorized(msg string, cause error) *widget.Error {
	return &widget.Error{Code: widget.CodeUnauthorized, Message: msg, Err: cause}
}

// bearerToken extracts the token of "Bearer <token>" (the scheme is
// case-insensitive, RFC 9110 §11.1), refusing one over maxTokenBytes.
func bearerToken(h string) (string, error) {
	scheme, tok, ok := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	if !ok || tok == "" {
		return "", ErrNoCredentials
	}
	if len(tok) > maxTokenBytes {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxTokenBytes)
	}
	return tok, nil
}

// compactShape checks that tok has the shape of a compact JWS before any
// parser sees it: three non-empty base64url parts. That also keeps out the
// JWS JSON serialisation and JWE, neither of which a caller has any reason
// to send.
func compactShape(tok string) error {
	parts := 1
	partLen := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if token.Base64URL(c) {
			partLen++
			continue
		}
		if c != '.' {
			return fmt.Errorf("%w: not a compact JWS", ErrMalformed)
		}
		if partLen == 0 {
			return fmt.Errorf("%w: empty part", ErrMalformed)
		}
		parts++
		partLen = 0
	}
	if parts != 3 || partLen == 0 {
		return fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	return nil
}

// caller reads the identity out of a verified token.
func (a *Authenticator) caller(tok claimsReader) (widget.Caller, error) {
	sub, ok := tok.Subject()
	if !ok || sub == "" {
		return widget.Caller{}, fmt.Errorf("%w: sub", ErrMissingClaim)
	}
	if widget.ValidateID("sub", sub) != nil {
		return widget.Caller{}, fmt.Errorf("%w: sub is not a usable identifier", ErrInvalidClaim)
	}

	var tenantV any
	if tok.Get(a.tenantClaim, &tenantV) != nil {
		return widget.Caller{}, fmt.Errorf("%w: tenant claim %q", ErrMissingClaim, a.tenantClaim)
	}
	tenant, ok := tenantV.(string)
	if !ok || tenant == "" || widget.ValidateID("tenant", tenant) != nil {
		return widget.Caller{}, fmt.Errorf("%w: tenant claim %q is not a usable identifier", ErrInvalidClaim, a.tenantClaim)
	}

	var rolesV any
	if tok.Get(a.rolesClaim, &rolesV) != nil {
		rolesV = nil // absent: the caller simply holds no role
	}
	roles, err := parseRoles(rolesV)
	if err != nil {
		return widget.Caller{}, fmt.Errorf("%w: roles claim %q: %w", ErrInvalidClaim, a.rolesClaim, err)
	}
	return widget.Caller{Subject: sub, Tenant: tenant, Roles: roles}, nil
}

// claimsReader is the part of jwt.Token that caller needs.
type claimsReader interface {
	Subject() (string, bool)
	Get(name string, dst any) error
}

// parseRoles accepts the shapes identity providers use for roles: a JSON
// array of strings, or one string for a single role.
func parseRoles(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []string:
		return v, nil
	case []any:
		roles := make([]string, 0, len(v))
		for _, r := range v {
			s, ok := r.(string)
			if !ok {
				return nil, errors.New("not an array of strings")
			}
			roles = append(roles, s)
		}
		return roles, nil
	default:
		return nil, errors.New("neither a string nor an array of strings")
	}
}

// The error of a key lookup is classified by jwks's sentinel; any other
// failure is the key source's, not the caller's.
func classifyKeyError(err error) error {
	if errors.Is(err, jwks.ErrUnknownKey) {
		return ErrUnknownKey
	}
	return ErrKeysUnavailable
}
