package verify

import (
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// maxNumericDate is the last second of the year 9999. Bounding iat, nbf
// and exp keeps every time computation below far from overflow.
const maxNumericDate = 253402300799

// checkClaims judges the claims of a token whose signature holds. mask
// says which claims the payload held.
func (v *Verifier) checkClaims(c *token.Claims, mask uint16) error {
	if missing := requiredClaims &^ mask; missing != 0 {
		for f := range cInc {
			if missing&(1<<f) != 0 {
				return errMissing[f]
			}
		}
	}
	switch {
	case c.Issuer != v.cfg.Issuer:
		return errIssuer
	case c.Audience != v.cfg.Audience:
		return errAudience
	case c.Scope != token.Scope:
		return errScope
	case c.Subject == "" || c.Tenant == "":
		return errEmptyClaim
	case !validSessionID(c.SessionID):
		return errSessionID
	case c.ID != c.SessionID:
		return errJTI
	}

	for _, t := range [...]int64{c.IssuedAt, c.NotBefore, c.Expiry} {
		if t <= 0 || t > maxNumericDate {
			return errNumericDate
		}
	}
	// iat_ms, when present, falls within iat's second: it orders the
	// token against revocations, and must not move it out of the second
	// the signed iat names.
	if mask&(1<<cIatMs) != 0 && (c.IssuedAtMs <= 0 || c.IssuedAtMs/1000 != c.IssuedAt) {
		return errIssuedAtMs
	}
	life := c.Expiry - c.IssuedAt
	switch {
	case life <= 0:
		return errLifetime
	case life > int64(v.cfg.MaxLifetime/time.Second):
		// In seconds: life*time.Second would overflow for a token
		// that claims to live for centuries.
		return errTooLong
	}

	now := v.cfg.Now()
	switch {
	case !now.Before(time.Unix(c.Expiry, 0).Add(v.cfg.Leeway)):
		return errExpired
	case now.Before(time.Unix(c.NotBefore, 0).Add(-v.cfg.Leeway)):
		return errNotBefore
	case now.Before(time.Unix(c.IssuedAt, 0).Add(-v.cfg.Leeway)):
		// A token issued in the future was minted by a clock far ahead
		// of ours, or forged with an iat chosen to outlive MaxLifetime.
		return errIssuedAt
	}
	return nil
}

// sessionIDPrefix and the KSUID bounds mirror pkg/sessionid, which this
// package does not import: it would bring the KSUID library into every
// edge for a check that is twenty lines here.
const (
	sessionIDPrefix = "wsess_"
	ksuidLen        = 27
	// maxKSUID is the largest KSUID, base62-encoded; base62 digits sort
	// in ASCII order, so at a fixed length a string comparison is a
	// numeric one.
	maxKSUID = "aWgEPTl1tmebfsQzFP4bxwgy80V"
)

// validSessionID reports whether sid is "wsess_" followed by a KSUID:
// 27 base62 digits encoding at most 20 bytes.
func validSessionID(sid string) bool {
	if len(sid) != len(sessionIDPrefix)+ksuidLen || sid[:len(sessionIDPrefix)] != sessionIDPrefix {
		return false
	}
	id := sid[len(sessionIDPrefix):]
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('0' <= b && b <= '9' || 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z') {
			return false
		}
	}
	return id <= maxKSUID
}
