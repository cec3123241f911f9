// Package widget holds the domain of widget sessions: the types every other
// package speaks (callers, session requests, minted sessions), the rules a
// session request must satisfy, and the error codes of the public API.
//
// It imports only the standard library, so any adapter (HTTP, Redis, the
// user directory) can depend on it without pulling in the others.
package widget

import (
	"context"
	"time"
)

// Session lifetime bounds from the public API page: the default is 8 hours,
// the maximum 24 hours. The verifier enforces MaxTTL again on exp - iat.
const (
	DefaultTTL = 8 * time.Hour
	MaxTTL     = 24 * time.Hour
	// MaxIDLength bounds userId and incidentId.
	MaxIDLength = 128
)

// Roles a caller may hold. Admin and member may mint sessions.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Caller is the authenticated principal of a request to the minting API, as
// read from the caller JWT issued by the identity provider.
type Caller struct {
	Subject string
	Tenant  string
	Roles   []string
}

// HasRole reports whether the caller holds role.
func (c Caller) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// HasAnyRole reports whether the caller holds at least one of roles.
func (c Caller) HasAnyRole(roles ...string) bool {
	for _, r := range roles {
		if c.HasRole(r) {
			return true
		}
	}
	return false
}

// SessionRequest is a validated request to mint a session.
type SessionRequest struct {
	UserID     string
	IncidentID string // empty when not given
	TTL        time.Duration
}

// Session is a minted widget session.
type Session struct {
	ID         string // wsess_<KSUID>
	Token      string // wst_<env>_<compact JWS>; a secret, never logged
	UserID     string
	Tenant     string
	IncidentID string
	IssuedAt   time.Time
	ExpiresAt  time.Time
}

// UserDirectory answers whether a user exists in a tenant. Implementations
// return an *Error with code DependencyUnavailable when they cannot tell:
// an unreachable directory must never read as "no such user".
type UserDirectory interface {
	UserExists(ctx context.Context, tenant, userID string) (bool, error)
}
