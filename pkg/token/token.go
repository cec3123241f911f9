// Package token defines the wire form of a widget session token: the
// wst_<env>_ prefix around a compact JWS, its header values and its claims.
// The minting service writes this form and the verifier reads it; both take
// the definitions from here. It imports only the standard library, so the
// verifier library an edge embeds stays small.
package token

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/causeflow/widget-sessions/pkg/jsonwrite"
)

// Environments. A token carries its environment in its prefix so that a
// secret scanner can recognise it and so that a test token never works in
// live, nor the reverse.
const (
	EnvLive = "live"
	EnvTest = "test"
)

// Header values of every session token.
const (
	// Type is the JWS "typ" header: explicit typing (RFC 8725 §3.11) keeps
	// a session token from being accepted where another JWT is expected.
	Type = "wst+jwt"
	// Scope is the "scope" claim of a widget session.
	Scope = "widget"
)

// Algorithms a session token may be signed with.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
)

// Sentinel errors of the wire form.
var (
	ErrMalformed        = errors.New("token: malformed")
	ErrWrongEnvironment = errors.New("token: wrong environment")
)

// Base64URL reports whether c is in the base64url alphabet (RFC 4648 §5),
// the alphabet of a compact JWS's parts: one lookup per byte of the tokens
// every request presents.
func Base64URL(c byte) bool { return base64URL[c] }

var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// ValidEnv reports whether env is a known environment.
func ValidEnv(env string) bool { return env == EnvLive || env == EnvTest }

// Prefix returns the prefix of tokens of env: "wst_live_" or "wst_test_".
// The two are constants: every mint and every verification asks.
func Prefix(env string) string {
	switch env {
	case EnvLive:
		return "wst_live_"
	case EnvTest:
		return "wst_test_"
	}
	return "wst_" + env + "_"
}

// Wrap returns the session token for a compact JWS in env.
func Wrap(env, compact string) string { return Prefix(env) + compact }

// Unwrap strips the prefix of env from tok and returns the compact JWS. A
// token of the other environment yields ErrWrongEnvironment, anything else
// that does not carry a session-token prefix ErrMalformed.
func Unwrap(env, tok string) (string, error) {
	if compact, ok := strings.CutPrefix(tok, Prefix(env)); ok {
		return compact, nil
	}
	for _, other := range [...]string{EnvLive, EnvTest} {
		if other != env && strings.HasPrefix(tok, Prefix(other)) {
			return "", ErrWrongEnvironment
		}
	}
	return "", ErrMalformed
}

// Claims are the claims of a session token. All times are NumericDate
// (seconds since the Unix epoch), but for IssuedAtMs.
type Claims struct {
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"` // the userId
	Tenant    string `json:"tid"`
	SessionID string `json:"sid"`
	ID        string `json:"jti"` // equal to SessionID
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	Incident  string `json:"inc,omitempty"`
	Scope     string `json:"scope"`
	// IssuedAtMs is when the token was minted, in milliseconds since the
	// Unix epoch, within IssuedAt's second: a revocation "of every token
	// issued before now" compares it, so that a token minted a moment
	// after a revocation, in the same second, is not born revoked. It is
	// a claim of its own rather than a fractional iat because verifiers
	// deployed before it (ours included) read iat as whole seconds and
	// ignore an unknown claim. 0: absent (a token minted before it
	// existed), read as the start of IssuedAt's second.
	IssuedAtMs int64 `json:"iat_ms,omitempty"`
}

// IssuedAtMilli returns when the token was minted, in milliseconds: its
// iat_ms, or the start of its iat's second when it has none (the earliest
// it can have been minted, so that a revocation in that second covers it).
func (c *Claims) IssuedAtMilli() int64 {
	if c.IssuedAtMs != 0 {
		return c.IssuedAtMs
	}
	return c.IssuedAt * 1000
}

// AppendEncode appends the JSON payload of c to dst: the bytes
// encoding/json.Marshal writes, without its reflection when every string is
// plain (ids, the issuer and audience nearly always are). Every mint
// encodes claims.
func (c Claims) AppendEncode(dst []byte) []byte {
	for _, s := range [...]string{c.Issuer, c.Audience, c.Subject, c.Tenant, c.SessionID, c.ID, c.Incident, c.Scope} {
		if !jsonwrite.Plain(s) {
			b, _ := json.Marshal(c) // strings and integers: it cannot fail
			return append(dst, b...)
		}
	}
	o := jsonwrite.Append(dst, 160+len(c.Issuer)+len(c.Audience)+len(c.Subject)+len(c.Tenant)+len(c.SessionID)+len(c.ID)+len(c.Incident)+len(c.Scope)).
		String("iss", c.Issuer).String("aud", c.Audience).String("sub", c.Subject).String("tid", c.Tenant).
		String("sid", c.SessionID).String("jti", c.ID).
		Int("iat", c.IssuedAt).Int("nbf", c.NotBefore).Int("exp", c.Expiry)
	if c.Incident != "" {
		o = o.String("inc", c.Incident)
	}
	o = o.String("scope", c.Scope)
	if c.IssuedAtMs != 0 {
		o = o.Int("iat_ms", c.IssuedAtMs)
	}
	return o.End()
}
