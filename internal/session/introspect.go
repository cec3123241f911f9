package session

import (
	"context"
	"errors"

	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Verifier validates a session token. *verify.Verifier satisfies it.
type Verifier interface {
	Verify(ctx context.Context, tok string) (*token.Claims, error)
}

// Introspector answers RFC 7662 introspection for the API gateway.
type Introspector struct {
	verifier Verifier
	roles    Roles
}

// NewIntrospector returns an Introspector over verifier.
func NewIntrospector(verifier Verifier, roles Roles) (*Introspector, error) {
	if verifier == nil || !roles.valid() {
		return nil, errors.New("session: introspector needs a verifier, the service role and the operator tenant")
	}
	return &Introspector{verifier: verifier, roles: roles}, nil
}

// Authorize tells whether caller may introspect. The HTTP layer calls it
// before reading the body, as minting does.
func (i *Introspector) Authorize(caller widget.Caller) error {
	if !i.roles.holds(caller, i.roles.Service) {
		return widget.Errorf(widget.CodeForbidden, "introspection requires the %s role of the operator tenant", i.roles.Service)
	}
	return nil
}

// Introspect returns the claims of tok when it is active, and nil when it
// is not, without saying why (RFC 7662 §2.2: an inactive token is just
// inactive). Only when the verdict cannot be reached, because the
// revocation state or the keys are unknown, does it fail, with a 503: the
// gateway must not read "unknown" as either answer.
func (i *Introspector) Introspect(ctx context.Context, caller widget.Caller, tok string) (*token.Claims, error) {
	if err := i.Authorize(caller); err != nil {
		return nil, err
	}
	claims, err := i.verifier.Verify(ctx, tok)
	switch {
	case err == nil:
		return claims, nil
	case errors.Is(err, verify.ErrRevocationUnknown):
		return nil, &widget.Error{Code: widget.CodeRevocationUnknown, Message: "revocation state unknown; retry", Err: err}
	case errors.Is(err, verify.ErrKeysUnavailable):
		return nil, &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "signing keys unavailable; retry", Err: err}
	default:
		return nil, nil
	}
}
