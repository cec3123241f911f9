package api

import "github.com/gin-gonic/gin"

// routes registers every public endpoint, in the order of openapi.yaml. A
// test holds the two together.
func (s *Server) routes(e *gin.Engine) {
	e.POST("/v1/widget/sessions", s.handle(s.createSession))
	e.DELETE("/v1/widget/sessions/:sessionId", s.handle(s.revokeSession))
	e.DELETE("/v1/widget/users/:userId/sessions", s.handle(s.revokeUser))
	e.DELETE("/v1/widget/tenants/:tenantId/sessions", s.handle(s.revokeTenant))
	e.POST("/v1/widget/tokens/introspect", s.handle(s.introspect))
	e.GET("/.well-known/jwks.json", s.handle(s.jwks))

	e.NoRoute(s.handle(notFound))
	e.NoMethod(s.handle(methodNotAllowed))
}
