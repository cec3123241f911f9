package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// revokeSession handles DELETE /v1/widget/sessions/{sessionId}.
func revokeSession(auth Authenticator, revoker Revoker, metrics *Metrics) gin.HandlerFunc {
	return handle(func(c *gin.Context) (err error) {
		defer func() { metrics.observeRevocation("session", err) }()
		caller, tenant, err := revocationCaller(c, auth)
		if err != nil {
			return err
		}
		sid := c.Param("sessionId")
		if err := revoker.RevokeSession(c, caller, tenant, sid); err != nil {
			return err
		}
		requestOf(c).session = sid
		c.Status(http.StatusNoContent)
		return nil
	})
}

// revokeUser handles DELETE /v1/widget/users/{userId}/sessions.
func revokeUser(auth Authenticator, revoker Revoker, metrics *Metrics) gin.HandlerFunc {
	return handle(func(c *gin.Context) (err error) {
		defer func() { metrics.observeRevocation("user", err) }()
		caller, tenant, err := revocationCaller(c, auth)
		if err != nil {
			return err
		}
		if err := revoker.RevokeUser(c, caller, tenant, c.Param("userId")); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

// revokeTenant handles DELETE /v1/widget/tenants/{tenantId}/sessions.
func revokeTenant(auth Authenticator, revoker Revoker, metrics *Metrics) gin.HandlerFunc {
	return handle(func(c *gin.Context) (err error) {
		defer func() { metrics.observeRevocation("tenant", err) }()
		caller, err := authenticate(c, auth)
		if err != nil {
			return err
		}
		if err := onlyQuery(c); err != nil {
			return err
		}
		if err := revoker.RevokeTenant(c, caller, c.Param("tenantId")); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

// revocationCaller authenticates the caller and reads the optional
// tenantId query parameter (the ops role acting on another tenant).
func revocationCaller(c *gin.Context, auth Authenticator) (widget.Caller, string, error) {
	caller, err := authenticate(c, auth)
	if err != nil {
		return widget.Caller{}, "", err
	}
	if err := onlyQuery(c, "tenantId"); err != nil {
		return widget.Caller{}, "", err
	}
	tenant := c.Query("tenantId")
	if _, given := c.GetQuery("tenantId"); given && tenant == "" {
		return widget.Caller{}, "", widget.FieldError("tenantId", "must not be empty")
	}
	requestOf(c).targetTenant = tenant
	return caller, tenant, nil
}

// authenticate authenticates the caller and records its tenant for the
// access log.
func authenticate(c *gin.Context, auth Authenticator) (widget.Caller, error) {
	r := requestOf(c)
	r.api = true
	caller, err := auth.Authenticate(c, c.GetHeader("Authorization"))
	if err != nil {
		return widget.Caller{}, err
	}
	r.tenant, r.caller, r.authed = caller.Tenant, caller, true
	return caller, nil
}

// onlyQuery refuses query parameters other than allowed, and any given
// twice: a typo such as ?tenant=acme must not silently act on the caller's
// own tenant.
func onlyQuery(c *gin.Context, allowed ...string) error {
	for name, values := range c.Request.URL.Query() {
		known := false
		for _, a := range allowed {
			known = known || a == name
		}
		if !known {
			return widget.FieldError(name, "is not a known query parameter")
		}
		if len(values) > 1 {
			return widget.FieldError(name, "appears more than once")
		}
	}
	return nil
}
