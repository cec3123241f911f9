package callerauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/internal/strictjson"
)

// checkStructure holds a compact JWS (three base64url parts, as
// bearerToken checked) to the one shape a caller JWT has, before any
// parser or key lookup sees it:
//
//   - the protected header is one JSON object without a duplicate member:
//     two "alg" or two "kid" would let two parsers read two different
//     headers, and only one of them checked the signature;
//   - there is no "cty": a nested JWT (cty "JWT") would have the inner
//     token's claims trusted on the strength of the outer signature;
//   - the payload is one JSON object, valid UTF-8, without a duplicate
//     claim, for the same reason as the header;
//   - when typ is set, the header's "typ" is that media type (compared
//     case-insensitively, "application/" optional, RFC 7515 §4.1.9): a
//     token the provider minted for another purpose (an ID token, a
//     logout token) is not an access token for this API.
//
// Its errors wrap ErrHeader or ErrMalformed and never quote the token.
func checkStructure(raw, typ string) error {
	h, p, _ := strings.Cut(raw, ".")
	p, _, _ = strings.Cut(p, ".")
	header, err := jsonObject(h)
	if err != nil {
		return fmt.Errorf("%w: protected header %v", ErrMalformed, err)
	}
	if _, nested := strictjson.MemberNamed(header, "cty"); nested {
		return fmt.Errorf("%w: cty (a nested token) is not accepted", ErrHeader)
	}
	if typ != "" {
		var got string
		v, ok := strictjson.MemberNamed(header, "typ")
		if !ok || json.Unmarshal(v, &got) != nil || !sameMediaType(got, typ) {
			return fmt.Errorf("%w: typ must be %s", ErrHeader, typ)
		}
	}
	if _, err := jsonObject(p); err != nil {
		return fmt.Errorf("%w: payload %v", ErrMalformed, err)
	}
	return nil
}

// jsonObject decodes one base64url part and walks it as one JSON object
// with distinct member names.
func jsonObject(part string) ([]strictjson.Member, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(part)
	if err != nil {
		return nil, fmt.Errorf("is not base64url")
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("is not valid UTF-8")
	}
	ms, err := strictjson.Walk(b)
	if err != nil {
		// Walk's texts name member names, never values; still, keep only
		// the verdict: member names are the token's too.
		return nil, fmt.Errorf("is not one JSON object with distinct members")
	}
	return ms, nil
}

// sameMediaType compares two typ values as RFC 7515 §4.1.9 says: case
// insensitively, with "application/" implied when absent.
func sameMediaType(a, b string) bool {
	trim := func(s string) string {
		s = strings.ToLower(s)
		return strings.TrimPrefix(s, "application/")
	}
	return trim(a) == trim(b)
}
