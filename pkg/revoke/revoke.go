// Package revoke is the domain of session revocation: what an entry is, how
// entries match tokens, and the in-memory store of the embedded default.
//
// Tokens are stateless JWTs, so a revocation is a rule matched against a
// token's claims, not a flag on a stored session. Four kinds of rule exist:
// one session, every token of a user in a tenant issued at or before a time,
// every token of a tenant issued at or before a time, and every token issued
// at or before a time (written when an emptied Redis is detected). Every rule
// but the last names a tenant and only ever matches that tenant's tokens, so a
// revocation by one tenant can never reach another's sessions.
//
// Each entry carries the moment after which no token it could match can still
// be alive (the session's KSUID time, or the revocation time, plus the maximum
// token lifetime and the validators' clock-skew leeway): stores drop it then,
// so the set holds only what still matters and cannot grow without bound.
//
// A "before" rule has millisecond resolution, like the iat_ms claim it is
// compared with: it revokes the tokens minted at or before its millisecond,
// so that "sign out everywhere, then sign in" works at once, the new token
// minted a moment after the revocation is not born revoked. A token without
// iat_ms (minted before the claim existed) counts as minted at the start of
// its iat's second, the safe side. Expiries have whole-second resolution,
// like the NumericDate claims and the session id's KSUID.
package revoke

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Sentinel errors of revocation stores, for errors.Is.
var (
	// ErrInvalidEntry is wrapped by the error a store returns for an entry
	// that Validate rejects. That error is a *widget.Error with the
	// validation code, so the HTTP layer answers it as a bad request.
	ErrInvalidEntry = errors.New("revoke: invalid entry")
	// ErrUnavailable is wrapped by the error Revoke returns when the store
	// could not confirm the write: the revocation may not be recorded and
	// the caller must not report success (the HTTP layer answers 503).
	ErrUnavailable = errors.New("revoke: store unavailable")
	// ErrStale is wrapped by the error IsRevoked returns when the store
	// cannot vouch that its view is fresh. The verifier must then refuse the
	// token ("revocation state unknown", 503): fail closed, never open.
	ErrStale = errors.New("revoke: revocation state unknown")
	// ErrTenantLimit is wrapped by the error Revoke returns for a new
	// session or user entry of a tenant that holds Limits.MaxPerTenant
	// live ones already. Nothing was written. Entries of kind tenant are
	// never refused: revoking the whole tenant is the way out.
	ErrTenantLimit = errors.New("revoke: the tenant holds too many live revocation entries")
	// ErrTooMany is wrapped by the error of a store or mirror asked to hold
	// more than Limits.MaxEntries entries in all. A mirror refuses the
	// set and fails closed, rather than exhaust its replica's memory.
	ErrTooMany = errors.New("revoke: more revocation entries than the configured maximum")
)

// Defaults of Limits.
const (
	DefaultMaxPerTenant = 10000
	DefaultMaxEntries   = 1000000
)

// Limits bound what a store holds, so that no tenant, and no corrupted
// backend, can grow it without bound.
type Limits struct {
	// MaxPerTenant bounds the live session and user entries of one tenant.
	// Zero means DefaultMaxPerTenant.
	MaxPerTenant int
	// MaxEntries bounds the entries of every tenant together, as held in
	// a store or a validator's mirror. Zero means DefaultMaxEntries.
	MaxEntries int
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxPerTenant <= 0 {
		l.MaxPerTenant = DefaultMaxPerTenant
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l
}

// Capped reports whether e is a kind MaxPerTenant counts: session and
// user entries. Tenant-wide and global entries are one per tenant at most.
func (e Entry) Capped() bool { return e.Kind == KindSession || e.Kind == KindUser }

// Store records revocations and answers whether a token is revoked. Memory
// is the embedded default; the Redis adapter serves many replicas. Both pass
// revoketest.Run.
type Store interface {
	// Revoke records e and returns only once the store has made it durable
	// (for Redis: acknowledged). Any failure is an error, never a silent nil.
	Revoke(ctx context.Context, e Entry) error
	// IsRevoked reports whether a token with claims c is revoked. It never
	// does I/O. An error (wrapping ErrStale) means the answer is unknown.
	IsRevoked(c *token.Claims) (bool, error)
	// Subscribe calls fn with every entry that revokes more than the store
	// knew before, until cancel is called. See Listeners.
	Subscribe(fn func(Entry)) (cancel func())
}

// Kind is the kind of a revocation entry.
type Kind uint8

// Kinds of entry. The zero Kind is invalid.
const (
	// KindSession revokes every token of one session of a tenant.
	KindSession Kind = iota + 1
	// KindUser revokes the tokens of one user of a tenant issued at or
	// before a time.
	KindUser
	// KindTenant revokes the tokens of a tenant issued at or before a time.
	KindTenant
	// KindAll revokes every token issued at or before a time, in every
	// tenant. Only a store writes it, when it finds its data lost.
	KindAll
)

var kindNames = [...]string{KindSession: "session", KindUser: "user", KindTenant: "tenant", KindAll: "all"}

// String returns the kind's name: session, user, tenant or all.
func (k Kind) String() string {
	if k >= KindSession && k <= KindAll {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind returns the Kind named s, as String writes it.
func ParseKind(s string) (Kind, error) {
	for k := KindSession; k <= KindAll; k++ {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown kind %q", ErrInvalidEntry, s)
}

// Entry is one revocation.
type Entry struct {
	Kind Kind
	// Tenant scopes every kind but KindAll, for which it is empty.
	Tenant string
	// Subject is the session id (KindSession) or the user id (KindUser),
	// and empty for the other kinds.
	Subject string
	// Before is the revocation time of KindUser, KindTenant and KindAll,
	// to the millisecond: a token minted at or before it (its
	// token.Claims.IssuedAtMilli) is revoked. It is zero for KindSession.
	Before time.Time
	// Expires is when the entry stops mattering: no token it could match is
	// alive after it, leeway included.
	Expires time.Time
}

// SessionEntry returns the entry revoking session sid of tenant. It expires
// MaxTTL plus leeway after the session's creation, read from its KSUID: no
// token of that session can be alive later. An invalid sid is an error.
func SessionEntry(tenant, sid string, leeway time.Duration) (Entry, error) {
	created, err := sessionid.Time(sid)
	if err != nil {
		return Entry{}, invalid("sessionId", "%q is not a session id", sid)
	}
	return Entry{
		Kind:    KindSession,
		Tenant:  tenant,
		Subject: sid,
		Expires: ceilSecond(created.Add(widget.MaxTTL + leeway)),
	}, nil
}

// UserEntry returns the entry revoking every token of user in tenant issued
// at or before now.
func UserEntry(tenant, user string, now time.Time, leeway time.Duration) Entry {
	return beforeEntry(KindUser, tenant, user, now, leeway)
}

// TenantEntry returns the entry revoking every token of tenant issued at or
// before now.
func TenantEntry(tenant string, now time.Time, leeway time.Duration) Entry {
	return beforeEntry(KindTenant, tenant, "", now, leeway)
}

// AllEntry returns the entry revoking every token of every tenant issued at
// or before now.
func AllEntry(now time.Time, leeway time.Duration) Entry {
	return beforeEntry(KindAll, "", "", now, leeway)
}

// beforeEntry builds a time-bounded entry. A token it matches was issued at
// or before now and lives at most MaxTTL, so the entry may go MaxTTL plus
// leeway after now.
func beforeEntry(kind Kind, tenant, subject string, now time.Time, leeway time.Duration) Entry {
	return Entry{
		Kind:    kind,
		Tenant:  tenant,
		Subject: subject,
		Before:  now.Truncate(time.Millisecond),
		Expires: ceilSecond(now.Add(widget.MaxTTL + leeway)),
	}
}

// Bound returns e as a store may keep it at now: its Expires no later
// than now + MaxTTL + leeway, the end of the longest-lived token that could
// be minted now. ok is false for an entry that can match no token at all: a
// session whose KSUID time is later than now + leeway cannot have been
// minted, and storing it would only let a caller pick an entry's lifetime
// (a KSUID can name any second up to 2150).
//
// The clamp may end a session entry up to one leeway earlier than the
// KSUID rule would, for a session minted by a replica whose clock ran
// ahead: the last seconds of a 24-hour session's grace, traded for a
// bound that no input can move.
func (e Entry) Bound(now time.Time, leeway time.Duration) (bounded Entry, ok bool) {
	if e.Kind == KindSession {
		created, err := sessionid.Time(e.Subject)
		if err != nil || created.After(now.Add(leeway)) {
			return e, false
		}
	}
	if limit := ceilSecond(now.Add(widget.MaxTTL + leeway)); e.Expires.After(limit) {
		e.Expires = limit
	}
	return e, true
}

// Matches reports whether e revokes a token with claims c: the rule Set
// applies, for one entry (a listener told of a revocation uses it to find
// the streams it ends).
func (e Entry) Matches(c *token.Claims) bool {
	switch e.Kind {
	case KindSession:
		return c.Tenant == e.Tenant && c.SessionID == e.Subject
	case KindUser:
		return c.Tenant == e.Tenant && c.Subject == e.Subject && c.IssuedAtMilli() <= e.Before.UnixMilli()
	case KindTenant:
		return c.Tenant == e.Tenant && c.IssuedAtMilli() <= e.Before.UnixMilli()
	case KindAll:
		return c.IssuedAtMilli() <= e.Before.UnixMilli()
	}
	return false
}

// Validate reports whether e is a well-formed entry. Its error is a
// *widget.Error with the validation code, wrapping ErrInvalidEntry.
func (e Entry) Validate() error {
	switch e.Kind {
	case KindSession:
		if !sessionid.Valid(e.Subject) {
			return invalid("sessionId", "%q is not a session id", e.Subject)
		}
	case KindUser:
		if e.Subject == "" {
			return invalid("userId", "a user entry needs a user id")
		}
	case KindTenant, KindAll:
		if e.Subject != "" {
			return invalid("subject", "a %s entry has no subject", e.Kind)
		}
	default:
		return invalid("kind", "unknown kind %d", uint8(e.Kind))
	}
	if (e.Kind == KindAll) != (e.Tenant == "") {
		if e.Kind == KindAll {
			return invalid("tenantId", "an all entry names no tenant")
		}
		return invalid("tenantId", "a %s entry needs a tenant", e.Kind)
	}
	if e.Kind != KindSession && e.Before.Unix() <= 0 {
		return invalid("before", "a %s entry needs a revocation time", e.Kind)
	}
	if e.Expires.Unix() <= 0 {
		return invalid("expires", "an entry needs an expiry")
	}
	return nil
}

// String describes e for logs. Ids are not secrets; tokens never appear.
func (e Entry) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Tenant != "" {
		fmt.Fprintf(&b, " tenant=%q", e.Tenant)
	}
	if e.Subject != "" {
		fmt.Fprintf(&b, " subject=%q", e.Subject)
	}
	if e.Kind != KindSession {
		fmt.Fprintf(&b, " before=%dms", e.Before.UnixMilli())
	}
	fmt.Fprintf(&b, " expires=%d", e.Expires.Unix())
	return b.String()
}

func invalid(field, format string, args ...any) error {
	return &widget.Error{
		Code:    widget.CodeValidation,
		Field:   field,
		Message: field + ": " + fmt.Sprintf(format, args...),
		Err:     ErrInvalidEntry,
	}
}

// ceilSecond rounds t up to a whole second, so that an expiry never moves
// earlier when stored with second resolution.
func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}
