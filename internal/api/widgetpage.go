package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/internal/locale"
	"github.com/causeflow/widget-sessions/internal/widgetpage"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// embedPage handles GET /embed?session=<sessionId>: the chat panel a
// customer's page frames. The page carries no secret; it waits for the
// session token from its host page (postMessage), so the session id in the
// URL only has to be well formed.
func embedPage(w *widgetpage.Widget, tenants TenantSettings) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		widgetpage.SetPageHeaders(c.Writer.Header(), nil) // no host may frame an error
		if err := onlyQuery(c, "session", "tenant", "locale"); err != nil {
			return err
		}
		// The language the host asked for (mount's locale): widget.js
		// reads it; here it only has to be a tag.
		if l, ok := c.GetQuery("locale"); ok {
			if err := locale.Check(l); err != nil {
				return widget.FieldError("locale", "%v", err)
			}
		}
		if !sessionid.Valid(c.Query("session")) {
			return widget.FieldError("session", "must be a session id (wsess_...)")
		}
		// The tenant only chooses whose host pages may frame the page: the
		// page takes a token from those pages alone, and refuses one of
		// another tenant (widget.js). Without it (a widgetUrl minted before
		// tenants had their own origins), the deployment's defaults.
		tenant, ok := c.GetQuery("tenant")
		if ok && widget.ValidateID("tenant", tenant) != nil {
			return widget.FieldError("tenant", "must be a tenant id")
		}
		settings := tenants.Get(tenant)
		page, err := w.Page(settings.EmbedOrigins, settings.Widget)
		if err != nil {
			return err
		}
		widgetpage.SetPageHeaders(c.Writer.Header(), page)
		page.Serve(c.Writer)
		return nil
	})
}

// asset serves one of the widget's static files: /embed/widget.js,
// /embed/widget.css and /sdk.js (CauseFlowWidget.mount for customers'
// pages).
func asset(h http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}
