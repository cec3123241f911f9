package api

import (
	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// embedPage handles GET /embed?session=<sessionId>: the chat panel a
// customer's page frames. The page carries no secret; it waits for the
// session token from its host page (postMessage), so the session id in the
// URL only has to be well formed.
func (s *Server) embedPage(c *gin.Context) error {
	s.embed.SetPageHeaders(c.Writer.Header())
	if err := onlyQuery(c, "session"); err != nil {
		return err
	}
	if !sessionid.Valid(c.Query("session")) {
		return widget.FieldError("session", "must be a session id (wsess_...)")
	}
	s.embed.ServePage(c.Writer)
	return nil
}

// embedScript handles GET /embed/widget.js.
func (s *Server) embedScript(c *gin.Context) error {
	s.embed.Script().ServeHTTP(c.Writer, c.Request)
	return nil
}

// embedStyle handles GET /embed/widget.css.
func (s *Server) embedStyle(c *gin.Context) error {
	s.embed.Style().ServeHTTP(c.Writer, c.Request)
	return nil
}

// sdk handles GET /sdk.js: CauseFlowWidget.mount for customers' pages.
func (s *Server) sdk(c *gin.Context) error {
	s.embed.SDK().ServeHTTP(c.Writer, c.Request)
	return nil
}
