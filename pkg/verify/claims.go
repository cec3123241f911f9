package verify

import (
	"encoding/json"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// Claims by position, for the presence mask and for naming a claim in a
// fixed error text.
const (
	cIss = iota
	cAud
	cSub
	cTid
	cSid
	cJti
	cIat
	cNbf
	cExp
	cScope
	cInc
	cIatMs
	numClaims
)

var claimNames = [numClaims]string{"iss", "aud", "sub", "tid", "sid", "jti", "iat", "nbf", "exp", "scope", "inc", "iat_ms"}

// requiredClaims is every claim but inc and iat_ms (which tokens minted
// before it existed lack). livekit's verifier requires exp
// because a token without one never dies; ours requires them all, since
// the minter always writes them and a token without, say, tid could not
// be scoped to a tenant nor revoked by one.
const requiredClaims = 1<<cInc - 1

// Per-claim reasons, built once (see reason).
var (
	errMissing   [numClaims]error
	errWrongType [numClaims]error
)

func init() {
	for i, name := range claimNames {
		errMissing[i] = because(ErrInvalidClaims, "missing "+name)
		errWrongType[i] = because(ErrInvalidClaims, name+" has the wrong JSON type")
	}
}

func isNumeric(f int) bool { return f == cIat || f == cNbf || f == cExp || f == cIatMs }

func claimIndex(name string) int {
	switch name {
	case "iss":
		return cIss
	case "aud":
		return cAud
	case "sub":
		return cSub
	case "tid":
		return cTid
	case "sid":
		return cSid
	case "jti":
		return cJti
	case "iat":
		return cIat
	case "nbf":
		return cNbf
	case "exp":
		return cExp
	case "scope":
		return cScope
	case "inc":
		return cInc
	case "iat_ms":
		return cIatMs
	}
	return -1
}

func setString(c *token.Claims, f int, s string) {
	switch f {
	case cIss:
		c.Issuer = s
	case cAud:
		c.Audience = s
	case cSub:
		c.Subject = s
	case cTid:
		c.Tenant = s
	case cSid:
		c.SessionID = s
	case cJti:
		c.ID = s
	case cScope:
		c.Scope = s
	case cInc:
		c.Incident = s
	}
}

func setNumber(c *token.Claims, f int, n int64) {
	switch f {
	case cIat:
		c.IssuedAt = n
	case cNbf:
		c.NotBefore = n
	case cExp:
		c.Expiry = n
	case cIatMs:
		c.IssuedAtMs = n
	}
}

// decodeClaims reads the payload into c and returns which claims it held.
// It fails with errPayloadJSON when the payload is not a JSON object, and
// with errWrongType when a claim we know has a JSON type we do not accept:
// strings for iss, aud, sub, tid, sid, jti, scope and inc, integers for
// iat, nbf, exp and iat_ms. aud is a single string, never an array: the minter
// writes a string, and one form is one less thing to get wrong. NumericDates
// are whole seconds, as the minter writes them. Unknown claims are ignored
// (RFC 7519 §4), so a minter may add one before every verifier knows it.
//
// The common case, the minter's own compact ASCII output, takes a fast
// path with no allocation (strings are slices of payload); anything else
// (escapes, non-ASCII, unknown or repeated members, other number forms)
// goes to encoding/json, which defines the semantics: the fast path
// accepts only input on which the two agree (see FuzzDecodeClaims).
func decodeClaims(payload string, c *token.Claims) (mask uint16, err error) {
	if mask, ok := fastClaims(payload, c); ok {
		return mask, nil
	}
	*c = token.Claims{}
	return slowClaims(payload, c)
}

func slowClaims(payload string, c *token.Claims) (mask uint16, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil || m == nil {
		return 0, errPayloadJSON // also a JSON array, string, number or null
	}
	for f, name := range claimNames {
		raw, ok := m[name]
		if !ok {
			continue
		}
		// null would decode as "no change" and read as present.
		if len(raw) == 0 || raw[0] == 'n' {
			return 0, errWrongType[f]
		}
		if isNumeric(f) {
			var n int64
			if json.Unmarshal(raw, &n) != nil {
				return 0, errWrongType[f]
			}
			setNumber(c, f, n)
		} else {
			var s string
			if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				return 0, errWrongType[f]
			}
			setString(c, f, s)
		}
		mask |= 1 << f
	}
	return mask, nil
}

// fastClaims parses the subset of JSON the minter writes. ok is false
// whenever the input leaves that subset; it then reports nothing, and the
// caller starts over with encoding/json.
func fastClaims(p string, c *token.Claims) (mask uint16, ok bool) {
	i := skipSpace(p, 0)
	if i >= len(p) || p[i] != '{' {
		return 0, false
	}
	i = skipSpace(p, i+1)
	if i < len(p) && p[i] == '}' {
		return 0, skipSpace(p, i+1) == len(p)
	}
	for {
		name, j, ok := fastString(p, i)
		if !ok {
			return 0, false
		}
		f := claimIndex(name)
		if f < 0 || mask&(1<<f) != 0 {
			return 0, false // unknown or repeated: encoding/json decides
		}
		i = skipSpace(p, j)
		if i >= len(p) || p[i] != ':' {
			return 0, false
		}
		i = skipSpace(p, i+1)
		if isNumeric(f) {
			var n int64
			if n, j, ok = fastInt(p, i); !ok {
				return 0, false
			}
			setNumber(c, f, n)
		} else {
			var s string
			if s, j, ok = fastString(p, i); !ok {
				return 0, false
			}
			setString(c, f, s)
		}
		mask |= 1 << f
		i = skipSpace(p, j)
		if i >= len(p) {
			return 0, false
		}
		switch p[i] {
		case ',':
			i = skipSpace(p, i+1)
		case '}':
			return mask, skipSpace(p, i+1) == len(p)
		default:
			return 0, false
		}
	}
}

func skipSpace(p string, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t') {
		i++
	}
	return i
}

// fastString reads a JSON string at p[i] made of printable ASCII without
// escapes, and returns it and the index after its closing quote.
func fastString(p string, i int) (s string, next int, ok bool) {
	if i >= len(p) || p[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(p); j++ {
		switch b := p[j]; {
		case b == '"':
			return p[i+1 : j], j + 1, true
		case b < 0x20 || b >= 0x7f || b == '\\':
			return "", 0, false
		}
	}
	return "", 0, false
}

// fastInt reads a positive JSON integer of at most 15 digits (NumericDates
// have 10 until the year 2286) with no sign, fraction or exponent.
func fastInt(p string, i int) (n int64, next int, ok bool) {
	j := i
	for j < len(p) && p[j] >= '0' && p[j] <= '9' && j-i <= 15 {
		n = n*10 + int64(p[j]-'0')
		j++
	}
	switch {
	case j == i || j-i > 15 || p[i] == '0':
		return 0, 0, false
	case j < len(p) && (p[j] == '.' || p[j] == 'e' || p[j] == 'E'):
		return 0, 0, false
	}
	return n, j, true
}
