// Package api is the public HTTP surface of widget-sessions, built on gin:
// routes.go lists every endpoint in the order of openapi.yaml; handlers
// decode, call the domain and render; errors.go holds the one table that
// maps domain error codes to HTTP statuses.
package api

import (
	"context"
	"errors"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/embed"
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

// Deps are the dependencies of the public API.
type Deps struct {
	Logger         *zap.Logger
	Auth           Authenticator
	Minter         Minter
	Revoker        Revoker
	Introspector   Introspector
	Keys           KeyPublisher
	Metrics        *Metrics
	Edge           *Edge    // the widget's endpoints; nil: not served here
	WidgetURLBase  string   // widgetUrl is <base>/embed?session=<sessionId>
	TrustedProxies []string // nil: X-Forwarded-For is never believed
	Now            func() time.Time
}

// Server is the public API's handler set.
type Server struct {
	deps   Deps
	engine *gin.Engine
	embed  *embed.Widget // the embeddable widget; nil without the edge
}

// New returns the gin engine serving the public API.
func New(deps Deps) (*gin.Engine, error) {
	s, err := NewServer(deps)
	if err != nil {
		return nil, err
	}
	return s.Engine(), nil
}

// Engine returns the gin engine.
func (s *Server) Engine() *gin.Engine { return s.engine }

// serveAPI reports whether the minting API is served (WIDGET_SERVE api or
// both); the edge is served when Deps.Edge is set.
func (d Deps) serveAPI() bool { return d.Auth != nil }

// NewServer returns the public API. The minting API is served when its
// dependencies are given, the widget's endpoints when Deps.Edge is.
func NewServer(deps Deps) (*Server, error) {
	if deps.Logger == nil || deps.Metrics == nil {
		return nil, errors.New("api: logger and metrics are required")
	}
	if deps.serveAPI() && (deps.Minter == nil || deps.Revoker == nil || deps.Introspector == nil || deps.Keys == nil) {
		return nil, errors.New("api: the minting API needs auth, minter, revoker, introspector and keys")
	}
	if !deps.serveAPI() && deps.Edge == nil {
		return nil, errors.New("api: nothing to serve: neither the minting API nor the edge")
	}
	if deps.Edge != nil {
		edge := *deps.Edge
		if err := edge.withDefaults(); err != nil {
			return nil, err
		}
		deps.Edge = &edge
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	gin.SetMode(gin.ReleaseMode) // gin's debug mode prints routes and warnings to stdout
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// A redirect would make a client resend its body and Authorization
	// header to another URL; an unknown path is a plain 404 instead.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	// Without trusted proxies, ClientIP is the peer address: a client must
	// not choose the IP we log by sending X-Forwarded-For.
	if err := e.SetTrustedProxies(deps.TrustedProxies); err != nil {
		return nil, err
	}
	s := &Server{deps: deps, engine: e}
	if deps.Edge != nil {
		w, err := embed.New(deps.Edge.EmbedOrigins)
		if err != nil {
			return nil, err
		}
		s.embed = w
	}
	e.Use(s.requestID, s.accessLog, s.recoverPanic)
	s.routes(e)
	return s, nil
}

// handlerFunc is a handler that returns its error instead of writing it:
// one place, renderError, turns errors into responses.
type handlerFunc func(c *gin.Context) error

func (s *Server) handle(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.renderError(c, err)
		}
	}
}
