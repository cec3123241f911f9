package client

import (
	"fmt"
	"time"
)

// Error is an error answered by the API: its HTTP status, its code, and
// what it says. errors.Is(err, ErrX) compares codes.
type Error struct {
	Status     int           `json:"-"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
	Field      string        `json:"field,omitempty"`
	RequestID  string        `json:"requestId"`
	RetryAfter time.Duration `json:"-"` // from Retry-After, when the API says when to retry
}

func (e *Error) Error() string {
	s := fmt.Sprintf("widget-sessions: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	if e.RequestID != "" {
		s += " [request " + e.RequestID + "]"
	}
	return s
}

// Is reports whether target is an *Error of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The API's error codes, for errors.Is.
var (
	ErrValidation            = &Error{Code: "validation_error"}
	ErrUnauthorized          = &Error{Code: "unauthorized"}
	ErrForbidden             = &Error{Code: "forbidden"}
	ErrUserNotFound          = &Error{Code: "user_not_found"}
	ErrIncidentNotFound      = &Error{Code: "incident_not_found"}
	ErrNotFound              = &Error{Code: "not_found"}
	ErrPayloadTooLarge       = &Error{Code: "payload_too_large"}
	ErrRateLimited           = &Error{Code: "rate_limited"}
	ErrRevocationLimit       = &Error{Code: "revocation_limit_reached"}
	ErrDependencyUnavailable = &Error{Code: "dependency_unavailable"}
	ErrRevocationUnknown     = &Error{Code: "revocation_state_unknown"}
	ErrInternal              = &Error{Code: "internal_error"}
	// ErrUnexpectedStatus is an answer that is not the API's error form,
	// such as a proxy's page.
	ErrUnexpectedStatus = &Error{Code: "unexpected_status"}
)
