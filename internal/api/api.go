// Package api is the public HTTP surface of widget-sessions, built on gin.
// It has two surfaces, the minting API and the widget's edge; routes.go
// builds each from handler maker functions that close over exactly the
// dependencies they use, in the order of openapi.yaml. Handlers decode,
// call the domain and render; errors.go holds the one table that maps
// domain error codes to HTTP statuses.
package api

import (
	"context"
	"errors"
	"net/netip"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/audit"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Limits of the public API.
const (
	// MaxBodyBytes bounds a request body; larger bodies get 413.
	MaxBodyBytes = 16 << 10
)

// Authenticator authenticates the caller of the minting API from the
// Authorization header value.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (widget.Caller, error)
}

// Minter mints a session for a validated request.
type Minter interface {
	Mint(ctx context.Context, caller widget.Caller, req widget.SessionRequest) (widget.Session, error)
}

// Revoker revokes sessions under the rules of who may revoke what. tenant
// is the explicit tenantId a caller asked to act in, or "" for its own.
type Revoker interface {
	RevokeSession(ctx context.Context, caller widget.Caller, tenant, sessionID string) error
	RevokeUser(ctx context.Context, caller widget.Caller, tenant, userID string) error
	RevokeTenant(ctx context.Context, caller widget.Caller, tenant string) error
}

// Introspector returns a session token's claims when it is active and nil
// when it is not.
type Introspector interface {
	Authorize(caller widget.Caller) error
	Introspect(ctx context.Context, caller widget.Caller, tok string) (*token.Claims, error)
}

// KeyPublisher publishes the public signing keys as a JWK Set document with
// its ETag.
type KeyPublisher interface {
	JWKS() (body []byte, etag string)
}

// Surface is one set of public routes: the minting API (API) or the
// widget's edge (Edge). Each closes over its own dependencies; run mounts
// the ones WIDGET_SERVE asks for on one public listener.
type Surface func(r gin.IRoutes)

// ServerOptions are what every surface of the public listener shares.
type ServerOptions struct {
	Logger  *zap.Logger
	Metrics *Metrics
	Tracing trace.TracerProvider
	// TrustedProxies are the proxies whose X-Forwarded-For (and
	// traceparent) is believed; none: the peer address is the client's.
	TrustedProxies []netip.Prefix
	// Audit receives the audit trail's events; nil: none.
	Audit *audit.Log
}

// NewServer returns the gin engine of the public listener serving
// surfaces. Every request passes the same middleware (request id, access
// log, audit trail and metrics, panic recovery) and every error the same
// renderer, whichever surface answers it.
func NewServer(o ServerOptions, surfaces ...Surface) (*gin.Engine, error) {
	logger, metrics, tracing, trustedProxies := o.Logger, o.Metrics, o.Tracing, o.TrustedProxies
	if logger == nil || metrics == nil || tracing == nil {
		return nil, errors.New("api: logger, metrics and a tracer provider are required")
	}
	if len(surfaces) == 0 {
		return nil, errors.New("api: nothing to serve: neither the minting API nor the edge")
	}
	gin.SetMode(gin.ReleaseMode) // gin's debug mode prints routes and warnings to stdout
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// A redirect would make a client resend its body and Authorization
	// header to another URL; an unknown path is a plain 404 instead.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	// Route on the escaped path: an id may hold any character but
	// whitespace and controls, "/" included, and "org%2Falice" must reach
	// /v1/widget/users/:userId/sessions as the id "org/alice" rather than
	// split into two segments and miss every route.
	e.UseRawPath = true
	e.UnescapePathValues = true
	// Without trusted proxies, ClientIP is the peer address: a client must
	// not choose the IP we log by sending X-Forwarded-For.
	proxies := make([]string, len(trustedProxies))
	for i, p := range trustedProxies {
		proxies[i] = p.String()
	}
	if err := e.SetTrustedProxies(proxies); err != nil {
		return nil, err
	}
	// With tracing off, no span middleware at all: it would copy every
	// request to carry a span that records nothing.
	if _, off := tracing.(noop.TracerProvider); !off {
		e.Use(traceRequest(tracing.Tracer("github.com/causeflow/widget-sessions/internal/api"), trustedProxies))
	}
	e.Use(requestID(logger), accessLog(metrics, len(trustedProxies) > 0, o.Audit), recoverPanic)
	for _, mount := range surfaces {
		mount(e)
	}
	e.NoRoute(handle(notFound))
	e.NoMethod(handle(methodNotAllowed))
	return e, nil
}

// handlerFunc is a handler that returns its error instead of writing it:
// one place, renderError, turns errors into responses.
type handlerFunc func(c *gin.Context) error

func handle(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			renderError(c, err)
		}
	}
}
