package verify

import "github.com/causeflow/widget-sessions/pkg/token"

// RevocationChecker tells whether the session of a verified token was
// revoked. Verify asks it last, only for tokens that are otherwise valid.
//
// An error means the checker cannot tell (its mirror of the revocation set
// is stale, say): Verify then refuses the token with ErrRevocationUnknown.
// A verifier fails closed, never open: a revoked token must not come back
// to life because Redis was briefly unreachable.
type RevocationChecker interface {
	IsRevoked(c *token.Claims) (bool, error)
}

// RevocationFunc is a RevocationChecker made of a function.
type RevocationFunc func(c *token.Claims) (bool, error)

// IsRevoked returns f(c).
func (f RevocationFunc) IsRevoked(c *token.Claims) (bool, error) { return f(c) }

// NoRevocation is a RevocationChecker under which nothing is ever revoked.
// It is for tests and offline tools (inspecting a token) only: a service
// that accepts tokens with it ignores every revocation. It exists so that
// choosing not to check is explicit; New refuses a nil checker.
var NoRevocation RevocationChecker = noRevocation{}

type noRevocation struct{}

func (noRevocation) IsRevoked(*token.Claims) (bool, error) { return false, nil }
