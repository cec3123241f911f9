// Package ticket issues single-use stream tickets. A browser's EventSource
// cannot send an Authorization header, and a session token must never be in
// a URL (URLs end up in access logs, proxies and browser history). So the
// widget first asks, with its session token in the header, for a ticket: a
// random string valid for a few seconds, redeemable exactly once, that it
// can put in the stream's URL. A ticket in a log is then useless: it has
// been used, or it has expired.
//
// A ticket is "wstk_" followed by 32 random bytes in unpadded base64url.
// Stores keep only its SHA-256 (Hash), so a dump of the store reveals no
// ticket that could be redeemed. Memory is the store of the embedded
// default; the Redis adapter serves many replicas. Both pass
// tickettest.Run.
package ticket

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// Prefix starts every ticket, so that a secret scanner can recognise one
// and a ticket is never mistaken for a session token ("wst_").
const Prefix = "wstk_"

// DefaultTTL is how long a ticket is valid: long enough for a browser to
// open the stream right after getting it, short enough that a leaked one is
// useless.
const DefaultTTL = 30 * time.Second

// randomBytes is the entropy of a ticket.
const randomBytes = 32

// encodedLen is the length of a ticket.
var encodedLen = len(Prefix) + base64.RawURLEncoding.EncodedLen(randomBytes)

// Sentinel errors of stores, for errors.Is.
var (
	// ErrInvalid is returned for a ticket that is malformed, unknown,
	// already redeemed or expired: the caller answers 401 and the widget
	// gets a new ticket. The four are not told apart, on purpose.
	ErrInvalid = errors.New("ticket: invalid, used or expired")
	// ErrUnavailable is wrapped by the error of a store that cannot answer
	// (Redis down): the caller answers 503, not 401.
	ErrUnavailable = errors.New("ticket: store unavailable")
	// ErrSessionLimit is wrapped by the error Issue returns when the
	// session holds its maximum of outstanding tickets (issued, neither
	// redeemed nor expired): the caller answers 429. One session can never
	// take the tickets of another.
	ErrSessionLimit = errors.New("ticket: too many outstanding tickets for this session")
	// ErrFull is wrapped, with ErrUnavailable, by the error of a Memory
	// store holding its global maximum: the last resort, which the
	// per-session limit should keep from ever being reached.
	ErrFull = errors.New("ticket: store full")
)

// DefaultMaxPerSession is the default bound of one session's outstanding
// tickets: the widget holds one at a time, and a few more cover retries
// and several tabs.
const DefaultMaxPerSession = 10

// Store issues and redeems tickets.
type Store interface {
	// Issue returns a new ticket carrying c, redeemable once within ttl
	// (which must be positive). It fails with ErrSessionLimit when c's
	// session holds its maximum of outstanding tickets.
	Issue(ctx context.Context, c *token.Claims, ttl time.Duration) (string, error)
	// Redeem returns the claims of ticket, issued for the session
	// sessionID, and makes it unusable, atomically: of concurrent redeems
	// of one ticket exactly one succeeds. It returns ErrInvalid for a
	// malformed, unknown, used or expired ticket, and for a ticket of
	// another session, which stays redeemable by its own. The claims are
	// those at issue time: the caller still checks that the session is not
	// revoked or expired since.
	Redeem(ctx context.Context, sessionID, ticket string) (*token.Claims, error)
}

// New returns a new random ticket.
func New() (string, error) {
	var b [randomBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.New("ticket: no randomness")
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Valid reports whether ticket has the form of a ticket. Stores check it
// before any lookup, so garbage costs no round trip.
func Valid(ticket string) bool {
	rest, ok := strings.CutPrefix(ticket, Prefix)
	if !ok || len(ticket) != encodedLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil && len(b) == randomBytes
}

// Hash returns what stores keep instead of ticket, issued for the session
// sessionID: the SHA-256, in hex, of both. A ticket is looked up under its
// session, so that one presented for another session is not found there,
// and not spent.
func Hash(sessionID, ticket string) string {
	h := sha256.New()
	h.Write([]byte(sessionID))
	h.Write([]byte{0})
	h.Write([]byte(ticket))
	return hex.EncodeToString(h.Sum(nil))
}

// checkIssue checks the arguments of Issue.
func checkIssue(c *token.Claims, ttl time.Duration) error {
	switch {
	case c == nil:
		return errors.New("ticket: no claims to issue a ticket for")
	case ttl <= 0:
		return errors.New("ticket: TTL must be positive")
	}
	return nil
}
