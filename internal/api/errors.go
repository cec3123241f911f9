package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/verify"
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
	widget.CodeTooManyReplies:        http.StatusTooManyRequests,
	widget.CodeModelBudgetExhausted:  http.StatusTooManyRequests,
	widget.CodeStorageQuota:          http.StatusTooManyRequests,
	widget.CodeRevocationLimit:       http.StatusTooManyRequests,
	widget.CodeInternal:              http.StatusInternalServerError,
}

// sentinelAnswers is the one table from the domain packages' sentinel
// errors to answers: an error that is no *widget.Error but wraps one of
// these is answered with its code and message (and a Retry-After, when the
// error carries one: see withRetryAfter). The first that err wraps wins.
var sentinelAnswers = []struct {
	err        error
	code       string
	message    string
	retryAfter time.Duration
}{
	// A session token that does not hold: the reason stays in the logs,
	// the widget only needs to know it must get a new session.
	{verify.ErrMalformed, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrWrongEnvironment, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrBadSignature, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrUnknownKey, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrExpired, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrNotYetValid, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrInvalidClaims, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrRevoked, widget.CodeUnauthorized, "invalid, expired or revoked session token", 0},
	{verify.ErrRevocationUnknown, widget.CodeRevocationUnknown, "revocation state unknown; retry", 0},
	{verify.ErrKeysUnavailable, widget.CodeDependencyUnavailable, "signing keys unavailable; retry", 0},
	// A ticket's session that may no longer stream (stream.Hub.Check).
	{stream.ErrSessionRevoked, widget.CodeUnauthorized, "session revoked", 0},
	{stream.ErrSessionExpired, widget.CodeUnauthorized, "session expired", 0},
	{stream.ErrRevocationUnknown, widget.CodeRevocationUnknown, "revocation state unknown; retry", 0},
	{ticket.ErrInvalid, widget.CodeUnauthorized, "invalid, used or expired stream ticket, or one of another session", 0},
	{ticket.ErrSessionLimit, widget.CodeTooManyTickets, "too many outstanding stream tickets for this session; use one, or retry later", 0},
	{ticket.ErrUnavailable, widget.CodeDependencyUnavailable, "ticket store unavailable", 0},
	{events.ErrUnavailable, widget.CodeDependencyUnavailable, "event log unavailable; retry", time.Second},
	{ratelimit.ErrUnavailable, widget.CodeDependencyUnavailable, "rate limit unavailable; retry", 0},
}

// answerOf returns the answer to err from sentinelAnswers, or nil.
func answerOf(err error) *widget.Error {
	for _, a := range sentinelAnswers {
		if errors.Is(err, a.err) {
			we := &widget.Error{Code: a.code, Message: a.message, Err: err, RetryAfter: a.retryAfter}
			var ra retryAfterError
			if errors.As(err, &ra) {
				we.RetryAfter = ra.after
			}
			return we
		}
	}
	return nil
}

// retryAfterError is an error that says when to try again: what a handler
// knows (the ticket TTL, say) and the error's own package does not.
type retryAfterError struct {
	error
	after time.Duration
}

func (e retryAfterError) Unwrap() error { return e.error }

// withRetryAfter returns err, saying to try again after d.
func withRetryAfter(err error, d time.Duration) error { return retryAfterError{err, d} }

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
		if de = answerOf(err); de == nil {
			loggerOf(c).Error("internal error", zap.Error(err))
			de = widget.Errorf(widget.CodeInternal, "internal error")
		}
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
