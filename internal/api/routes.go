package api

import (
	"errors"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/internal/widgetpage"
)

// This file registers every public endpoint, each surface in the order of
// openapi.yaml (a test holds the two together), and shows what each route
// closes over.

// APIOptions are what the minting API needs.
type APIOptions struct {
	Auth         Authenticator // caller JWTs
	Minter       Minter
	Revoker      Revoker
	Introspector Introspector
	Keys         KeyPublisher
	Metrics      *Metrics
	// WidgetURLBase makes each session's widgetUrl:
	// <base>/embed?session=<sessionId>.
	WidgetURLBase string
}

// API returns the minting API: customers' backends through the gateway,
// and ops, each authenticated by a caller JWT.
func API(o APIOptions) (Surface, error) {
	if o.Auth == nil || o.Minter == nil || o.Revoker == nil || o.Introspector == nil || o.Keys == nil || o.Metrics == nil {
		return nil, errors.New("api: the minting API needs auth, a minter, a revoker, an introspector, keys and metrics")
	}
	return func(r gin.IRoutes) {
		r.POST("/v1/widget/sessions", createSession(o.Auth, o.Minter, o.Metrics, o.WidgetURLBase))
		r.DELETE("/v1/widget/sessions/:sessionId", revokeSession(o.Auth, o.Revoker, o.Metrics))
		r.DELETE("/v1/widget/users/:userId/sessions", revokeUser(o.Auth, o.Revoker, o.Metrics))
		r.DELETE("/v1/widget/tenants/:tenantId/sessions", revokeTenant(o.Auth, o.Revoker, o.Metrics))
		r.POST("/v1/widget/tokens/introspect", introspect(o.Auth, o.Introspector))
		r.GET("/.well-known/jwks.json", jwks(o.Keys))
	}, nil
}

// EdgeOptions are what the widget's surface needs.
type EdgeOptions struct {
	// Verifier validates session tokens on this replica.
	Verifier SessionVerifier
	Chat     Chat
	// Streams holds this replica's open streams.
	Streams *stream.Hub
	Tickets Tickets
	// TicketLimiter bounds the stream tickets a session gets; keyed
	// "ticket:<sessionId>".
	TicketLimiter ratelimit.Limiter
	// SessionLimiter bounds, per session, the reads of GET
	// /v1/widget/session ("session:<sessionId>"), the stop requests
	// ("stop:<sessionId>") and the ratings ("feedback:<sessionId>"), each
	// on its own count.
	SessionLimiter ratelimit.Limiter
	Incidents      Incidents
	Metrics        *Metrics
	// TicketTTL is a stream ticket's life.
	TicketTTL time.Duration
	// Tenants gives each tenant's settings: the host pages' origins
	// allowed to frame its sessions' widget (none: no page may).
	Tenants TenantSettings
}

// Edge returns the widget's surface: the endpoints the widget calls with
// its session token (or, for EventSource, a stream ticket), and the pages
// and scripts a customer's page embeds. The edge validates session tokens
// itself.
func Edge(o EdgeOptions) (Surface, error) {
	if o.Verifier == nil || o.Chat == nil || o.Streams == nil || o.Tickets == nil || o.TicketLimiter == nil || o.SessionLimiter == nil || o.Incidents == nil || o.Metrics == nil || o.Tenants == nil {
		return nil, errors.New("api: the edge needs a verifier, chat, streams, tickets, ticket and session limiters, incidents, metrics and tenants")
	}
	if o.TicketTTL <= 0 {
		return nil, errors.New("api: the stream tickets' TTL must be positive")
	}
	page, err := widgetpage.New()
	if err != nil {
		return nil, err
	}
	return func(r gin.IRoutes) {
		r.GET("/v1/widget/session", widgetSession(o.Verifier, o.SessionLimiter, o.Incidents))
		r.POST("/v1/widget/sessions/:sessionId/messages", sendMessage(o.Verifier, o.Chat))
		r.POST("/v1/widget/sessions/:sessionId/messages/:messageId/stop", stopReply(o.Verifier, o.SessionLimiter, o.Chat))
		r.POST("/v1/widget/sessions/:sessionId/messages/:messageId/feedback", rateAnswer(o.Verifier, o.SessionLimiter, o.Chat, o.Metrics))
		r.POST("/v1/widget/sessions/:sessionId/stream-tickets", streamTicket(o.Verifier, o.Tickets, o.TicketLimiter, o.TicketTTL, o.Metrics))
		r.GET("/v1/widget/sessions/:sessionId/stream", streamEvents(o.Verifier, o.Tickets, o.Streams))
		r.GET("/embed", embedPage(page, o.Tenants))
		r.GET("/embed/widget.js", asset(page.Script()))
		r.GET("/embed/i18n.js", asset(page.Strings()))
		r.GET("/embed/widget.css", asset(page.Style()))
		r.GET("/sdk.js", asset(page.SDK()))
		r.GET("/sdk.d.ts", asset(page.SDKTypes()))
	}, nil
}
