package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	widget.CodeValidation:            http.StatusBadRequest,
	widget.CodeUnauthorized:          http.StatusUnauthorized,
	widget.CodeForbidden:             http.StatusForbidden,
	widget.CodeUserNotFound:          http.StatusNotFound,
	widget.CodeNotFound:              http.StatusNotFound,
	widget.CodeMethodNotAllowed:      http.StatusMethodNotAllowed,
	widget.CodePayloadTooLarge:       http.StatusRequestEntityTooLarge,
	widget.CodeUnsupportedMediaType:  http.StatusUnsupportedMediaType,
	widget.CodeDependencyUnavailable: http.StatusServiceUnavailable,
	widget.CodeRevocationUnknown:     http.StatusServiceUnavailable,
	widget.CodeIncidentNotFound:      http.StatusNotFound,
	widget.CodeRateLimited:           http.StatusTooManyRequests,
	widget.CodeTooManyStreams:        http.StatusTooManyRequests,
	widget.CodeTooManyTickets:        http.StatusTooManyRequests,
	widget.CodeRevocationLimit:       http.StatusTooManyRequests,
	widget.CodeInternal:              http.StatusInternalServerError,
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId"`
}

// renderError answers err. A domain error is answered with its code and
// message; anything else is logged and answered as a generic internal
// error, never with its text.
func renderError(c *gin.Context, err error) {
	var de *widget.Error
	if !errors.As(err, &de) {
		loggerOf(c).Error("internal error", zap.Error(err))
		de = widget.Errorf(widget.CodeInternal, "internal error")
	}
	status, ok := statusOf[de.Code]
	if !ok {
		loggerOf(c).Error("error code without a status", zap.String("code", de.Code), zap.Error(err))
		de, status = widget.Errorf(widget.CodeInternal, "internal error"), http.StatusInternalServerError
	}
	if de.Err != nil && status >= 500 {
		loggerOf(c).Warn("dependency error", zap.String("code", de.Code), zap.Error(de.Err))
	}
	switch status {
	case http.StatusUnauthorized:
		// RFC 6750 §3: a 401 names the scheme the client should use.
		c.Header("WWW-Authenticate", `Bearer realm="widget-sessions"`)
	case http.StatusServiceUnavailable:
		c.Header("Retry-After", "5")
	}
	if de.RetryAfter > 0 {
		// Whole seconds, rounded up: a client retrying early is refused again.
		c.Header("Retry-After", strconv.FormatInt(int64((de.RetryAfter+time.Second-1)/time.Second), 10))
	}
	c.Header("Cache-Control", "no-store")
	requestOf(c).errorCode = de.Code
	c.AbortWithStatusJSON(status, errorBody{Code: de.Code, Message: de.Message, Field: de.Field, RequestID: requestIDOf(c)})
}

func notFound(c *gin.Context) error {
	return widget.Errorf(widget.CodeNotFound, "no such endpoint")
}

func methodNotAllowed(c *gin.Context) error {
	return widget.Errorf(widget.CodeMethodNotAllowed, "method %s is not allowed here", c.Request.Method)
}
