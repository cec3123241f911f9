// Package session mints widget sessions: it applies the business rules of
// POST /v1/widget/sessions (who may mint, for which user, for how long) and
// produces a signed, self-contained session token. Nothing is stored: the
// token carries everything a validator needs.
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/pkg/jsonwrite"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Signer signs a token payload into a compact JWS whose header names the
// signing key, and returns it after prefix: the session token, in one
// buffer. It must not keep payload, whose buffer is reused. keys.Ring
// satisfies it.
type Signer interface {
	SignPrefixed(prefix string, payload []byte) (string, error)
}

// IncidentWarmer checks that an incident exists in a tenant and warms its
// context cache. It returns an error wrapping incident.ErrNotFound when
// the incident does not exist there; any other error means it cannot tell.
type IncidentWarmer interface {
	Warm(ctx context.Context, tenant, id string) error
}

// Config holds a Minter's dependencies and token parameters.
type Config struct {
	Env       string // token.EnvLive or token.EnvTest
	Issuer    string
	Audience  string
	Directory widget.UserDirectory
	Signer    Signer
	Incidents IncidentWarmer
	// Limiter counts each tenant's mints. It is per replica on purpose
	// (a *ratelimit.Memory): minting is the hot path, and a shared count
	// would cost every mint a Redis round trip; the fleet's bound is the
	// replicas' sum. It stops one tenant's backend, broken or hostile,
	// from taking the signing CPU every tenant shares.
	Limiter ratelimit.Limiter
	// OnContextUnavailable is told when an incident's existence could not
	// be checked; the session is minted anyway and the widget loads the
	// context on first use. Optional (for logging).
	OnContextUnavailable func(tenant, incidentID string, err error)
	Now                  func() time.Time // defaults to time.Now
	// Tracer makes the mint's spans and those of its lookups (default:
	// none). Their attributes never hold the token, the key or an id the
	// caller sent: only the tenant, and the outcome.
	Tracer trace.Tracer
}

// Minter mints sessions.
type Minter struct {
	cfg     Config
	tracing bool // cfg.Tracer records: not the no-op one
}

// New returns a Minter, checking that cfg is complete.
func New(cfg Config) (*Minter, error) {
	switch {
	case !token.ValidEnv(cfg.Env):
		return nil, fmt.Errorf("session: invalid environment %q", cfg.Env)
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("session: issuer and audience are required")
	case cfg.Directory == nil || cfg.Signer == nil || cfg.Incidents == nil || cfg.Limiter == nil:
		return nil, errors.New("session: directory, signer, incidents and a limiter are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tracer == nil {
		cfg.Tracer = noop.NewTracerProvider().Tracer("")
	}
	_, off := cfg.Tracer.(noop.Tracer)
	return &Minter{cfg: cfg, tracing: !off}, nil
}

// start starts a span under ctx. With tracing off it returns ctx itself and
// a no-op span: a no-op tracer's Start still puts its span in a new context,
// three allocations per mint for nothing.
func (m *Minter) start(ctx context.Context, name string) (context.Context, trace.Span) {
	if !m.tracing {
		return ctx, noopSpan
	}
	return m.cfg.Tracer.Start(ctx, name)
}

var noopSpan = trace.SpanFromContext(context.Background()) // the no-op span

// Authorize tells whether caller may mint sessions at all: the API page
// requires the admin or member role. The HTTP layer calls it before reading
// the body, so a caller without the role learns nothing about validation.
func Authorize(caller widget.Caller) error {
	if !caller.HasAnyRole(widget.RoleAdmin, widget.RoleMember) {
		return widget.Errorf(widget.CodeForbidden, "minting a widget session requires the admin or member role")
	}
	return nil
}

// Mint mints a session for req.UserID in the caller's tenant.
func (m *Minter) Mint(ctx context.Context, caller widget.Caller, req widget.SessionRequest) (s widget.Session, err error) {
	ctx, span := m.start(ctx, "session.mint")
	if span.IsRecording() {
		span.SetAttributes(attribute.String("widget.tenant", caller.Tenant), attribute.Bool("widget.incident", req.IncidentID != ""))
	}
	defer func() { endSpan(span, err) }()
	if err := Authorize(caller); err != nil {
		return widget.Session{}, err
	}
	if caller.Tenant == "" {
		return widget.Session{}, widget.Errorf(widget.CodeUnauthorized, "the caller token names no tenant")
	}
	if req.TTL <= 0 || req.TTL > widget.MaxTTL {
		return widget.Session{}, widget.FieldError("ttlSeconds", "must be between 1 and %d", int64(widget.MaxTTL/time.Second))
	}
	// After what the caller can fix (401, 403, 400), before any lookup:
	// refused mints cost the directory and the signer nothing.
	switch ok, retry, err := m.cfg.Limiter.Allow(ctx, "mint:"+caller.Tenant); {
	case err != nil:
		return widget.Session{}, &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "mint rate limiter unavailable", Err: err}
	case !ok:
		return widget.Session{}, &widget.Error{Code: widget.CodeRateLimited, Message: "too many sessions minted for this tenant; retry later", RetryAfter: retry}
	}
	lctx, lookup := m.start(ctx, "directory.user_exists")
	exists, err := m.cfg.Directory.UserExists(lctx, caller.Tenant, req.UserID)
	if lookup.IsRecording() {
		lookup.SetAttributes(attribute.Bool("widget.user_exists", exists))
	}
	endSpan(lookup, err)
	if err != nil {
		return widget.Session{}, err
	}
	if !exists {
		return widget.Session{}, widget.Errorf(widget.CodeUserNotFound, "userId %q does not exist in this tenant", req.UserID)
	}
	if req.IncidentID != "" {
		wctx, warm := m.start(ctx, "incident.warm")
		err := m.cfg.Incidents.Warm(wctx, caller.Tenant, req.IncidentID)
		endSpan(warm, err)
		switch {
		case errors.Is(err, incident.ErrNotFound):
			return widget.Session{}, widget.Errorf(widget.CodeIncidentNotFound, "incidentId %q does not exist in this tenant", req.IncidentID)
		case err != nil:
			// The incident source is down: a widget without its context yet
			// beats no widget; the edge loads the context on first use.
			if m.cfg.OnContextUnavailable != nil {
				m.cfg.OnContextUnavailable(caller.Tenant, req.IncidentID, err)
			}
		}
	}

	// Whole seconds: NumericDate claims and the KSUID in the session id
	// both have second precision, and expiresAt must equal exp exactly.
	// The millisecond goes in iat_ms, which orders the token against
	// revocations.
	precise := m.cfg.Now().UTC()
	now := precise.Truncate(time.Second)
	sid, err := sessionid.New(now)
	if err != nil {
		return widget.Session{}, fmt.Errorf("session: new id: %w", err)
	}
	exp := now.Add(req.TTL)
	buf := jsonwrite.Borrow() // the payload is copied into the token
	defer jsonwrite.Return(buf)
	*buf = token.Claims{
		Issuer:     m.cfg.Issuer,
		Audience:   m.cfg.Audience,
		Subject:    req.UserID,
		Tenant:     caller.Tenant,
		SessionID:  sid,
		ID:         sid,
		IssuedAt:   now.Unix(),
		IssuedAtMs: precise.UnixMilli(),
		NotBefore:  now.Unix(),
		Expiry:     exp.Unix(),
		Incident:   req.IncidentID,
		Scope:      token.Scope,
	}.AppendEncode(*buf)
	tok, err := m.cfg.Signer.SignPrefixed(token.Prefix(m.cfg.Env), *buf)
	if errors.Is(err, keys.ErrNoActiveKey) {
		return widget.Session{}, &widget.Error{Code: widget.CodeDependencyUnavailable,
			Message: "no active signing key: minting resumes once an active key is named", Err: err}
	}
	if err != nil {
		return widget.Session{}, fmt.Errorf("session: sign: %w", err)
	}
	return widget.Session{
		ID:         sid,
		Token:      tok,
		UserID:     req.UserID,
		Tenant:     caller.Tenant,
		IncidentID: req.IncidentID,
		IssuedAt:   now,
		ExpiresAt:  exp,
	}, nil
}

// endSpan ends span, marked as an error with err's code (never its text,
// which may quote what the caller sent) when err is not nil.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, widget.ErrorCode(err))
	}
	span.End()
}
