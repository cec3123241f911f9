package widget

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// ValidateID checks an identifier supplied by a caller (userId, incidentId):
// non-empty, at most MaxIDLength characters, valid UTF-8, and free of
// whitespace and control characters, which have no place in an id and are
// the usual tools of log and header injection.
func ValidateID(field, v string) error {
	if v == "" {
		return FieldError(field, "must not be empty")
	}
	if !utf8.ValidString(v) {
		return FieldError(field, "must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n > MaxIDLength {
		return FieldError(field, "must be at most %d characters, got %d", MaxIDLength, n)
	}
	if v == "." || v == ".." {
		// A dot segment: clients and proxies remove it from a URL's path
		// (RFC 3986 section 5.2.4), so such an id could be minted but never
		// revoked by its path.
		return FieldError(field, "must not be %q", v)
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '\uFEFF' || r == '\u200B' {
			return FieldError(field, "must not contain whitespace or control characters")
		}
	}
	return nil
}

// ValidateTTL checks a requested lifetime in whole seconds.
func ValidateTTL(field string, seconds int64) (time.Duration, error) {
	if seconds < 1 || seconds > int64(MaxTTL/time.Second) {
		return 0, FieldError(field, "must be an integer between 1 and %d, got %d", int64(MaxTTL/time.Second), seconds)
	}
	return time.Duration(seconds) * time.Second, nil
}
