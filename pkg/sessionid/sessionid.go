// Package sessionid makes and reads session ids: "wsess_" followed by a
// KSUID. A KSUID carries the second it was made, so the latest moment any
// token of a session can still be alive is known from its id alone, which
// lets revocation entries expire exactly when they stop mattering.
package sessionid

import (
	"errors"
	"strings"
	"time"

	"github.com/segmentio/ksuid"
)

// Prefix starts every session id.
const Prefix = "wsess_"

// ErrInvalid is returned for a string that is not a session id.
var ErrInvalid = errors.New("sessionid: invalid session id")

// New returns a new session id whose embedded time is now.
func New(now time.Time) (string, error) {
	id, err := ksuid.NewRandomWithTime(now)
	if err != nil {
		return "", err
	}
	return Prefix + id.String(), nil
}

// Time returns the creation time embedded in a session id, to the second.
func Time(sid string) (time.Time, error) {
	raw, ok := strings.CutPrefix(sid, Prefix)
	if !ok || !base62(raw) {
		return time.Time{}, ErrInvalid
	}
	id, err := ksuid.Parse(raw)
	if err != nil {
		return time.Time{}, ErrInvalid
	}
	return id.Time(), nil
}

// Valid reports whether sid is a well-formed session id.
func Valid(sid string) bool {
	_, err := Time(sid)
	return err == nil
}

// base62 reports whether s is 27 base62 digits: ksuid.Parse does not check
// every digit, and a session id goes into Redis keys and logs.
func base62(s string) bool {
	if len(s) != 27 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
