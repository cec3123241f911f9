package api

import "github.com/gin-gonic/gin"

// routes registers every public endpoint, in the order of openapi.yaml. A
// test holds the two together.
//
// WIDGET_SERVE chooses the surfaces: the minting API (customers' backends,
// the gateway, ops) and the edge (the widget, with its session token).
func (s *Server) routes(e *gin.Engine) {
	api, edge := s.deps.serveAPI(), s.deps.Edge != nil
	if api {
		e.POST("/v1/widget/sessions", s.handle(s.createSession))
		e.DELETE("/v1/widget/sessions/:sessionId", s.handle(s.revokeSession))
		e.DELETE("/v1/widget/users/:userId/sessions", s.handle(s.revokeUser))
		e.DELETE("/v1/widget/tenants/:tenantId/sessions", s.handle(s.revokeTenant))
		e.POST("/v1/widget/tokens/introspect", s.handle(s.introspect))
	}
	if edge {
		e.GET("/v1/widget/session", s.handle(s.widgetSession))
		e.POST("/v1/widget/sessions/:sessionId/messages", s.handle(s.sendMessage))
		e.POST("/v1/widget/sessions/:sessionId/messages/:messageId/stop", s.handle(s.stopReply))
		e.POST("/v1/widget/sessions/:sessionId/stream-tickets", s.handle(s.streamTicket))
		e.GET("/v1/widget/sessions/:sessionId/stream", s.handle(s.stream))
		e.GET("/embed", s.handle(s.embedPage))
		e.GET("/embed/widget.js", s.handle(s.embedScript))
		e.GET("/embed/widget.css", s.handle(s.embedStyle))
		e.GET("/sdk.js", s.handle(s.sdk))
	}
	if api {
		e.GET("/.well-known/jwks.json", s.handle(s.jwks))
	}

	e.NoRoute(s.handle(notFound))
	e.NoMethod(s.handle(methodNotAllowed))
}
