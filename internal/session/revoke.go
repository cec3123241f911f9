package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// RevocationStore records revocations. Revoke returns only once the entry
// is durable (for Redis: acknowledged), and an error otherwise.
type RevocationStore interface {
	Revoke(ctx context.Context, e revoke.Entry) error
}

// Roles names the roles with powers beyond a tenant's own admin, and the
// one tenant whose callers may hold them.
type Roles struct {
	Ops     string // may revoke in any tenant, and whole tenants
	Service string // may introspect tokens (the API gateway)
	// OpsTenant is the operator's tenant. Ops and Service count only in
	// a caller token of this tenant: every tenant's identity provider
	// (or its admins) may put any role name in its own tokens, so a role
	// name alone proves nothing about the operator.
	OpsTenant string
}

// holds reports whether caller holds role as the operator: the role, in
// a token of the operator tenant.
func (r Roles) holds(caller widget.Caller, role string) bool {
	return caller.Tenant == r.OpsTenant && caller.HasRole(role)
}

func (r Roles) valid() bool {
	return r.Ops != "" && r.Service != "" && r.OpsTenant != ""
}

// Revoker applies the rules of who may revoke what, and how often.
type Revoker struct {
	store   RevocationStore
	limiter ratelimit.Limiter
	roles   Roles
	leeway  time.Duration
	now     func() time.Time
}

// NewRevoker returns a Revoker writing to store. limiter counts the
// revocation requests of each caller tenant. leeway is the clock-skew
// leeway of validators: an entry lives that much longer than any token it
// could match.
func NewRevoker(store RevocationStore, limiter ratelimit.Limiter, roles Roles, leeway time.Duration, now func() time.Time) (*Revoker, error) {
	if store == nil || limiter == nil || !roles.valid() {
		return nil, errors.New("session: revoker needs a store, a limiter, the ops and service roles and the operator tenant")
	}
	if now == nil {
		now = time.Now
	}
	return &Revoker{store: store, limiter: limiter, roles: roles, leeway: leeway, now: now}, nil
}

// allow counts one revocation request of the caller's tenant. The count is
// the caller's tenant's, never the target's: a hostile tenant exhausts
// only its own budget, and the operator acting on that tenant during the
// attack keeps its own. A limiter that cannot count refuses (503): the
// write would need the same Redis anyway.
func (r *Revoker) allow(ctx context.Context, caller widget.Caller) error {
	ok, retry, err := r.limiter.Allow(ctx, "revoke:"+caller.Tenant)
	switch {
	case err != nil:
		return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "revocation rate limiter unavailable; the revocation was not recorded", Err: err}
	case !ok:
		return &widget.Error{Code: widget.CodeRateLimited, Message: "too many revocation requests from this tenant; retry later", RetryAfter: retry}
	}
	return nil
}

// targetTenant decides in which tenant caller acts. Without an explicit
// tenant it is the caller's own; another tenant needs the ops role. In its
// own tenant a caller needs admin (or ops).
func (r *Revoker) targetTenant(caller widget.Caller, tenant string) (string, error) {
	if tenant == "" || tenant == caller.Tenant {
		if caller.Tenant == "" {
			return "", widget.Errorf(widget.CodeUnauthorized, "the caller token names no tenant")
		}
		if !caller.HasRole(widget.RoleAdmin) && !r.roles.holds(caller, r.roles.Ops) {
			return "", widget.Errorf(widget.CodeForbidden, "revoking sessions requires the admin role")
		}
		return caller.Tenant, nil
	}
	if err := widget.ValidateID("tenantId", tenant); err != nil {
		return "", err
	}
	if !r.roles.holds(caller, r.roles.Ops) {
		return "", widget.Errorf(widget.CodeForbidden, "acting on another tenant requires the %s role of the operator tenant", r.roles.Ops)
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
	return r.write(ctx, caller, e)
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
	return r.write(ctx, caller, revoke.UserEntry(tenant, userID, r.now(), r.leeway))
}

// RevokeTenant revokes every session of a tenant issued up to now. Only the
// ops role may: a tenant admin revoking their whole tenant is an outage one
// click away, and it is an ops decision.
func (r *Revoker) RevokeTenant(ctx context.Context, caller widget.Caller, tenant string) error {
	if !r.roles.holds(caller, r.roles.Ops) {
		return widget.Errorf(widget.CodeForbidden, "revoking a whole tenant requires the %s role of the operator tenant", r.roles.Ops)
	}
	if err := widget.ValidateID("tenantId", tenant); err != nil {
		return err
	}
	return r.write(ctx, caller, revoke.TenantEntry(tenant, r.now(), r.leeway))
}

// write counts the request against the caller's tenant, then records e
// as bounded at now. An entry that needs no storing (a session that has
// expired, or that cannot have been minted yet) succeeds all the same: the
// answer must not tell a caller anything about a session id. A store
// failure is the revocation store being unavailable, never a silent
// success.
func (r *Revoker) write(ctx context.Context, caller widget.Caller, e revoke.Entry) error {
	if err := r.allow(ctx, caller); err != nil {
		return err
	}
	now := r.now()
	e, ok := e.Bound(now, r.leeway)
	if !ok || !e.Expires.After(now) {
		return nil
	}
	if err := r.store.Revoke(ctx, e); err != nil {
		var we *widget.Error
		switch {
		case errors.As(err, &we):
			return err
		case errors.Is(err, revoke.ErrTenantLimit):
			// Retry-After is the longest an entry lives: the tenant's
			// oldest entries leave by then at the latest.
			return &widget.Error{Code: widget.CodeRevocationLimit, Err: err, RetryAfter: time.Hour,
				Message: "this tenant holds too many live revocation entries; revoke the user's sessions instead, or ask the operator to revoke the tenant's"}
		}
		return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "revocation store unavailable; the revocation was not recorded", Err: fmt.Errorf("session: revoke: %w", err)}
	}
	// Commit wait: a token minted in the cutoff's own millisecond is
	// revoked (it may have been minted before the revocation), so the
	// answer waits for that millisecond to end. A session minted once the
	// caller has it is then never born revoked, on any replica whose clock
	// agrees with ours (widget_sessions_clock_offset_seconds watches that).
	if !e.Before.IsZero() {
		if wait := e.Before.Add(time.Millisecond).Sub(r.now()); wait > 0 {
			time.Sleep(min(wait, time.Millisecond))
		}
	}
	return nil
}
