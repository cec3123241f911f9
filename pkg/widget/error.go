package widget

import (
	"errors"
	"fmt"
	"time"
)

// Error codes of the public API. Each maps to one HTTP status in the API
// package's table; an error without a code is answered as Internal.
const (
	CodeValidation            = "validation_error"
	CodeUnauthorized          = "unauthorized"
	CodeForbidden             = "forbidden"
	CodeUserNotFound          = "user_not_found"
	CodeNotFound              = "not_found"
	CodeMethodNotAllowed      = "method_not_allowed"
	CodePayloadTooLarge       = "payload_too_large"
	CodeUnsupportedMediaType  = "unsupported_media_type"
	CodeDependencyUnavailable = "dependency_unavailable"
	CodeRevocationUnknown     = "revocation_state_unknown"
	CodeIncidentNotFound      = "incident_not_found"
	CodeRateLimited           = "rate_limited"
	CodeTooManyStreams        = "too_many_streams"
	CodeTooManyTickets        = "too_many_tickets"
	CodeTooManyReplies        = "too_many_replies"
	CodeModelBudgetExhausted  = "model_budget_exhausted"
	CodeStorageQuota          = "storage_quota_exceeded"
	CodeRevocationLimit       = "revocation_limit_reached"
	CodeInternal              = "internal_error"
)

// Error is a domain error: a machine-readable code, a message safe to show
// to the caller, and for validation errors the request field at fault.
type Error struct {
	Code    string
	Message string
	Field   string // the offending request field, when there is one
	Err     error  // the cause, for logs only; never rendered
	// RetryAfter, when set, tells the client when to try again.
	RetryAfter time.Duration
}

// Error returns the message, with the cause appended for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a validation error about one request field. The
// message always starts with the field's name so a caller can see at once
// which field is wrong.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, and
// CodeInternal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
