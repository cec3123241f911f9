package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// RevocationStore records revocations. Revoke returns only once the entry
// is durable (for Redis: acknowledged), and an error otherwise.
type RevocationStore interface {
	Revoke(ctx context.Context, e revoke.Entry) error
}

// Roles names the roles with powers beyond a tenant's own admin.
type Roles struct {
	Ops     string // may revoke in any tenant, and whole tenants
	Service string // may introspect tokens (the API gateway)
}

// Revoker applies the rules of who may revoke what.
type Revoker struct {
	store  RevocationStore
	roles  Roles
	leeway time.Duration
	now    func() time.Time
}

// NewRevoker returns a Revoker writing to store. leeway is the clock-skew
// leeway of validators: an entry lives that much longer than any token it
// could match.
func NewRevoker(store RevocationStore, roles Roles, leeway time.Duration, now func() time.Time) (*Revoker, error) {
	if store == nil || roles.Ops == "" || roles.Service == "" {
		return nil, errors.New("session: revoker needs a store and the ops and service roles")
	}
	if now == nil {
		now = time.Now
	}
	return &Revoker{store: store, roles: roles, leeway: leeway, now: now}, nil
}

// targetTenant decides in which tenant caller acts. Without an explicit
// tenant it is the caller's own; another tenant needs the ops role. In its
// own tenant a caller needs admin (or ops).
func (r *Revoker) targetTenant(caller widget.Caller, tenant string) (string, error) {
	if tenant == "" || tenant == caller.Tenant {
		if caller.Tenant == "" {
			return "", widget.Errorf(widget.CodeUnauthorized, "the caller token names no tenant")
		}
		if !caller.HasAnyRole(widget.RoleAdmin, r.roles.Ops) {
			return "", widget.Errorf(widget.CodeForbidden, "revoking sessions requires the admin role")
		}
		return caller.Tenant, nil
	}
	if err := widget.ValidateID("tenantId", tenant); err != nil {
		return "", err
	}
	if !caller.HasRole(r.roles.Ops) {
		return "", widget.Errorf(widget.CodeForbidden, "acting on another tenant requires the %s role", r.roles.Ops)
	}
	return tenant, nil
}

// RevokeSession revokes one session in the target tenant. It succeeds
// whether or not such a session was ever minted: tokens are not stored, so
// there is nothing to look up, and an answer that differed would let a
// caller probe other tenants' session ids.
func (r *Revoker) RevokeSession(ctx context.Context, caller widget.Caller, tenant, sid string) error {
	tenant, err := r.targetTenant(caller, tenant)
	if err != nil {
		return err
	}
	if !sessionid.Valid(sid) {
		return widget.FieldError("sessionId", "must be a session id (wsess_ followed by 27 base62 characters)")
	}
	e, err := revoke.SessionEntry(tenant, sid, r.leeway)
	if err != nil {
		return widget.FieldError("sessionId", "is not a valid session id")
	}
	if !e.Expires.After(r.now()) {
		return nil // every token of that session has expired already
	}
	return r.write(ctx, e)
}

// RevokeUser revokes every session of userID in the target tenant issued
// up to now.
func (r *Revoker) RevokeUser(ctx context.Context, caller widget.Caller, tenant, userID string) error {
	tenant, err := r.targetTenant(caller, tenant)
	if err != nil {
		return err
	}
	if err := widget.ValidateID("userId", userID); err != nil {
		return err
	}
	return r.write(ctx, revoke.UserEntry(tenant, userID, r.now(), r.leeway))
}

// RevokeTenant revokes every session of a tenant issued up to now. Only the
// ops role may: a tenant admin revoking their whole tenant is an outage one
// click away, and it is an ops decision.
func (r *Revoker) RevokeTenant(ctx context.Context, caller widget.Caller, tenant string) error {
	if !caller.HasRole(r.roles.Ops) {
		return widget.Errorf(widget.CodeForbidden, "revoking a whole tenant requires the %s role", r.roles.Ops)
	}
	if err := widget.ValidateID("tenantId", tenant); err != nil {
		return err
	}
	return r.write(ctx, revoke.TenantEntry(tenant, r.now(), r.leeway))
}

// write records e; a store failure is the revocation store being
// unavailable, never a silent success.
func (r *Revoker) write(ctx context.Context, e revoke.Entry) error {
	if err := r.store.Revoke(ctx, e); err != nil {
		var we *widget.Error
		if errors.As(err, &we) {
			return err
		}
		return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "revocation store unavailable; the revocation was not recorded", Err: fmt.Errorf("session: revoke: %w", err)}
	}
	return nil
}
