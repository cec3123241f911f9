package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/internal/widgetpage"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// embedPage handles GET /embed?session=<sessionId>: the chat panel a
// customer's page frames. The page carries no secret; it waits for the
// session token from its host page (postMessage), so the session id in the
// URL only has to be well formed.
func embedPage(page *widgetpage.Widget) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		page.SetPageHeaders(c.Writer.Header())
		if err := onlyQuery(c, "session"); err != nil {
			return err
		}
		if !sessionid.Valid(c.Query("session")) {
			return widget.FieldError("session", "must be a session id (wsess_...)")
		}
		page.ServePage(c.Writer)
		return nil
	})
}

// asset serves one of the widget's static files: /embed/widget.js,
// /embed/widget.css and /sdk.js (CauseFlowWidget.mount for customers'
// pages).
func asset(h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
