package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/internal/strictjson"
	"github.com/causeflow/widget-sessions/pkg/jsonwrite"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// introspection is the RFC 7662 response: {"active": false} alone when
// the token is not active, the claims when it is. tid, sid and inc are
// this service's extensions.
type introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	Subject   string `json:"sub,omitempty"`
	Tenant    string `json:"tid,omitempty"`
	SessionID string `json:"sid,omitempty"`
	ID        string `json:"jti,omitempty"`
	Issuer    string `json:"iss,omitempty"`
	Audience  string `json:"aud,omitempty"`
	IssuedAt  int64  `json:"iat,omitempty"`
	NotBefore int64  `json:"nbf,omitempty"`
	Expiry    int64  `json:"exp,omitempty"`
	Incident  string `json:"inc,omitempty"`
}

// introspect handles POST /v1/widget/tokens/introspect for the gateway.
func introspect(auth Authenticator, introspector Introspector) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		caller, err := authenticate(c, auth)
		if err != nil {
			return err
		}
		if err := introspector.Authorize(caller); err != nil {
			return err
		}
		tok, err := readIntrospectionToken(c)
		if err != nil {
			return err
		}
		claims, err := introspector.Introspect(c, caller, tok)
		if err != nil {
			return err
		}
		answer := introspection{Active: false}
		if claims != nil {
			requestOf(c).session = claims.SessionID
			answer = introspection{
				Active: true, Scope: claims.Scope, Subject: claims.Subject, Tenant: claims.Tenant,
				SessionID: claims.SessionID, ID: claims.ID, Issuer: claims.Issuer, Audience: claims.Audience,
				IssuedAt: claims.IssuedAt, NotBefore: claims.NotBefore, Expiry: claims.Expiry, Incident: claims.Incident,
			}
		}
		c.Writer.Header()["Cache-Control"] = noStore
		writeJSON(c, http.StatusOK, answer.appendTo)
		return nil
	})
}

// appendTo appends r as encoding/json writes it to dst, without its
// reflection when every string is plain, as a token's claims nearly always
// are.
func (r introspection) appendTo(dst []byte) []byte {
	strs := [...]string{r.Scope, r.Subject, r.Tenant, r.SessionID, r.ID, r.Issuer, r.Audience, r.Incident}
	size := 128
	for _, s := range strs {
		if !jsonwrite.Plain(s) {
			b, _ := json.Marshal(r) // strings, integers and a bool: it cannot fail
			return append(dst, b...)
		}
		size += len(s)
	}
	return jsonwrite.Append(dst, size).Bool("active", r.Active).OmitEmpty().
		String("scope", r.Scope).String("sub", r.Subject).String("tid", r.Tenant).String("sid", r.SessionID).
		String("jti", r.ID).String("iss", r.Issuer).String("aud", r.Audience).
		Int("iat", r.IssuedAt).Int("nbf", r.NotBefore).Int("exp", r.Expiry).String("inc", r.Incident).End()
}

// readIntrospectionToken reads `token` from a form body (RFC 7662) or a
// JSON body, strictly: one token, no unknown members.
func readIntrospectionToken(c *gin.Context) (string, error) {
	var tok string
	switch mediaType(c) {
	case "application/x-www-form-urlencoded":
		body, err := readBody(c)
		if err != nil {
			return "", err
		}
		if t, ok := plainTokenForm(body); ok {
			return t, nil
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return "", widget.Errorf(widget.CodeValidation, "body is not a valid form")
		}
		for name, values := range form {
			if name != "token" && name != "token_type_hint" {
				return "", widget.FieldError(name, "is not a known field")
			}
			if len(values) > 1 {
				return "", widget.FieldError(name, "appears more than once")
			}
		}
		tok = form.Get("token")
	case "application/json":
		body, err := readBody(c)
		if err != nil {
			return "", err
		}
		m, err := strictjson.ParseObject(body, "token", "token_type_hint")
		if err != nil {
			return "", validationError(err)
		}
		if _, err := m.String("token_type_hint"); err != nil {
			return "", validationError(err)
		}
		p, err := m.String("token")
		if err != nil {
			return "", validationError(err)
		}
		if p != nil {
			tok = *p
		}
	default:
		return "", widget.Errorf(widget.CodeUnsupportedMediaType, "Content-Type must be application/x-www-form-urlencoded or application/json")
	}
	if tok == "" {
		return "", widget.FieldError("token", "is required")
	}
	return tok, nil
}

// plainTokenForm reads the form the gateway sends, token=<compact JWS>, when
// the token needs no unescaping (a JWS is base64url and dots): what
// url.ParseQuery would return, without its map. ok is false for any other
// body, which then goes through url.ParseQuery and its checks.
func plainTokenForm(body []byte) (string, bool) {
	tok, ok := bytes.CutPrefix(body, []byte("token="))
	if !ok || len(tok) == 0 {
		return "", false
	}
	for _, c := range tok {
		if !token.Base64URL(c) && c != '.' {
			return "", false
		}
	}
	return string(tok), true
}
