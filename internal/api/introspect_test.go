package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
)

func TestIntrospectCaller(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, `{"userId":"user_alice"}`).SessionToken
	body := "token=" + url.QueryEscape(tok)
	for _, c := range []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", 401},
		{"garbage token", "Bearer nope", 401},
		{"admin", f.admin(t, "demo"), 403},
		{"member", f.as(t, "demo", "member"), 403},
		{"ops", f.ops(t), 403},
		{"service of the operator tenant", f.service(t), 200},
		// The service role counts only in the operator tenant: any other
		// tenant's identity provider may write "service" into its tokens.
		{"service of the token's tenant", f.as(t, "demo", "service"), 403},
		{"service of a third tenant", f.as(t, "acme", "service"), 403},
		{"ops and service of a third tenant", f.as(t, "acme", "ops", "service"), 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.introspectRequest(t, c.auth, formType, body)
			if c.status == http.StatusOK {
				if !verdict(t, resp) {
					t.Error("a valid token is inactive")
				}
				return
			}
			checkError(t, resp, c.status, codeFor(c.status))
			if bytes.Contains(resp.Body, []byte(`"active"`)) {
				t.Errorf("a refused caller got a verdict: %s", resp.Body)
			}
		})
	}
	// The role is checked before the body, as for minting: a caller
	// without it learns nothing about what a valid request looks like.
	for name, b := range map[string]string{"empty": "", "unknown field": "nope=1", "no token": "token="} {
		t.Run("admin with a bad body: "+name, func(t *testing.T) {
			checkError(t, f.introspectRequest(t, f.admin(t, "demo"), formType, b), http.StatusForbidden, "forbidden")
		})
	}
}

func TestIntrospectActive(t *testing.T) {
	f := newFixture(t)
	withInc := f.mint(t, `{"userId":"user_alice","incidentId":"inc_42","ttlSeconds":600}`)
	plain := f.mint(t, `{"userId":"user_bob"}`)
	jsonBody := func(tok string) string { b, _ := json.Marshal(map[string]string{"token": tok}); return string(b) }
	for _, c := range []struct {
		name, ctype, body string
		session           mintResponse
		user, inc         string
		ttl               int64
	}{
		{"form", formType, "token=" + url.QueryEscape(withInc.SessionToken), withInc, "user_alice", "inc_42", 600},
		{"form with charset and hint", formType + "; charset=utf-8", "token_type_hint=access_token&token=" + url.QueryEscape(withInc.SessionToken), withInc, "user_alice", "inc_42", 600},
		{"JSON", "application/json", jsonBody(withInc.SessionToken), withInc, "user_alice", "inc_42", 600},
		{"JSON with hint", "application/json", `{"token_type_hint":"access_token","token":"` + withInc.SessionToken + `"}`, withInc, "user_alice", "inc_42", 600},
		{"without incident", formType, "token=" + url.QueryEscape(plain.SessionToken), plain, "user_bob", "", 28800},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.introspectRequest(t, f.service(t), c.ctype, c.body)
			if !verdict(t, resp) {
				t.Fatalf("inactive: %s", resp.Body)
			}
			var got map[string]any
			dec := json.NewDecoder(bytes.NewReader(resp.Body))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			want := []string{"active", "aud", "exp", "iat", "iss", "jti", "nbf", "scope", "sid", "sub", "tid"}
			if c.inc != "" {
				want = append(want, "inc")
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, slices.Sorted(slices.Values(want))) {
				t.Errorf("members %v, want %v", keys, want)
			}
			for k, v := range map[string]string{
				"sub": c.user, "tid": "demo", "sid": c.session.SessionID, "jti": c.session.SessionID,
				"iss": sessionIssuer, "aud": sessionAudience, "scope": "widget", "inc": c.inc,
			} {
				if v != "" && got[k] != v {
					t.Errorf("%s = %v, want %q", k, got[k], v)
				}
			}
			iat, nbf, exp := claimInt(t, got, "iat"), claimInt(t, got, "nbf"), claimInt(t, got, "exp")
			expiresAt, err := time.Parse(time.RFC3339, c.session.ExpiresAt)
			if err != nil {
				t.Fatal(err)
			}
			if nbf != iat || exp-iat != c.ttl || exp != expiresAt.Unix() {
				t.Errorf("iat/nbf/exp = %d/%d/%d, want nbf = iat, exp = iat+%d = expiresAt %s", iat, nbf, exp, c.ttl, c.session.ExpiresAt)
			}
			if d := time.Since(time.Unix(iat, 0)); d < 0 || d > time.Minute {
				t.Errorf("iat %d is not about now", iat)
			}
		})
	}
}

// TestIntrospectInactive: anything but a valid, unrevoked token of this
// service is {"active":false} and nothing more.
func TestIntrospectInactive(t *testing.T) {
	f := newFixture(t)
	minted := f.mint(t, `{"userId":"user_alice"}`)
	revoked := f.mint(t, `{"userId":"user_alice"}`)
	f.want204(t, f.admin(t, "demo"), sessionPath(revoked.SessionID))

	now := time.Now().Unix()
	signed := func(edit func(c *token.Claims)) string {
		c := validClaims(t)
		edit(&c)
		return f.signClaims(t, c)
	}
	// The control: the same construction, unedited, is active, so each
	// case below is inactive for its own reason.
	if !f.active(t, signed(func(*token.Claims) {})) {
		t.Fatal("a token signed by the test with valid claims is inactive: the cases below prove nothing")
	}
	otherSet, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(validClaims(t))
	otherKey, err := keys.NewRing(otherSet).Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	compact := strings.TrimPrefix(minted.SessionToken, token.Prefix(token.EnvTest))
	parts := strings.Split(compact, ".")
	_, claims := decodeJWS(t, compact)
	claims["sub"] = "user_bob"
	edited, _ := json.Marshal(claims)
	tampered := token.Prefix(token.EnvTest) + parts[0] + "." + base64.RawURLEncoding.EncodeToString(edited) + "." + parts[2]

	for name, tok := range map[string]string{
		"garbage":                     "nope",
		"prefix only":                 "wst_test_",
		"three junk segments":         "wst_test_a.b.c",
		"no prefix":                   compact,
		"wrong environment (live)":    token.Wrap(token.EnvLive, compact),
		"expired":                     signed(func(c *token.Claims) { c.IssuedAt, c.NotBefore, c.Expiry = now-7200, now-7200, now-3600 }),
		"not yet valid":               signed(func(c *token.Claims) { c.IssuedAt, c.NotBefore, c.Expiry = now+3600, now+3600, now+7200 }),
		"lifetime over 24 h":          signed(func(c *token.Claims) { c.Expiry = c.IssuedAt + 86401 }),
		"wrong issuer":                signed(func(c *token.Claims) { c.Issuer = "https://evil.test" }),
		"wrong audience":              signed(func(c *token.Claims) { c.Audience = "other" }),
		"wrong scope":                 signed(func(c *token.Claims) { c.Scope = "admin" }),
		"tampered claims":             tampered,
		"signature of another token":  swapSignature(minted.SessionToken, revoked.SessionToken),
		"signed by an unknown key":    token.Wrap(token.EnvTest, otherKey),
		"revoked":                     revoked.SessionToken,
		"a caller JWT, not a session": f.callerToken(t, "demo", "admin_dana", "admin"),
	} {
		t.Run(name, func(t *testing.T) {
			if f.active(t, tok) {
				t.Error("active, want inactive")
			}
		})
	}
	if !f.active(t, minted.SessionToken) {
		t.Error("the untouched token is inactive")
	}
}

func TestIntrospectBadRequests(t *testing.T) {
	f := newFixture(t)
	tok := f.mint(t, `{"userId":"user_alice"}`).SessionToken
	form := "token=" + url.QueryEscape(tok)
	big := strings.Repeat("a", 17<<10)
	for _, c := range []struct {
		name, ctype, body string
		status            int
		field             string
	}{
		{"empty form", formType, "", 400, "token"},
		{"empty token", formType, "token=", 400, "token"},
		{"hint without token", formType, "token_type_hint=access_token", 400, "token"},
		{"unknown form field", formType, form + "&client_id=x", 400, "client_id"},
		{"token twice", formType, form + "&" + form, 400, "token"},
		{"bad form encoding", formType, "token=%zz", 400, ""},
		{"empty JSON object", "application/json", `{}`, 400, "token"},
		{"empty JSON token", "application/json", `{"token":""}`, 400, "token"},
		{"JSON token not a string", "application/json", `{"token":42}`, 400, "token"},
		{"unknown JSON member", "application/json", `{"token":"x","extra":1}`, 400, ""},
		{"JSON token twice", "application/json", `{"token":"x","token":"y"}`, 400, ""},
		{"JSON not an object", "application/json", `["x"]`, 400, ""},
		{"text/plain", "text/plain", tok, 415, ""},
		{"no Content-Type", "", form, 415, ""},
		{"multipart", "multipart/form-data; boundary=x", form, 415, ""},
		{"form over 16 KiB", formType, "token=" + big, 413, ""},
		{"JSON over 16 KiB", "application/json", `{"token":"` + big + `"}`, 413, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.introspectRequest(t, f.service(t), c.ctype, c.body)
			e := checkError(t, resp, c.status, codeFor(c.status))
			if c.field != "" && (e.Field == nil || *e.Field != c.field) {
				t.Errorf("field = %v, want %q (message %q)", e.Field, c.field, e.Message)
			}
			if c.field != "" && !strings.HasPrefix(e.Message, c.field) {
				t.Errorf("message %q does not start with the field %q", e.Message, c.field)
			}
		})
	}
}

// TestIntrospectRevocationStateUnknown: when the revocation store cannot
// tell, introspection answers 503 revocation_state_unknown: never a
// verdict either way.
func TestIntrospectRevocationStateUnknown(t *testing.T) {
	var stale atomic.Bool
	revs := newFakeRevocations()
	revs.isRevoked = func(c *token.Claims) (bool, error) {
		if stale.Load() {
			return false, fmt.Errorf("redis: revocation mirror not refreshed within 5s: %w", revoke.ErrStale)
		}
		return revs.mem.IsRevoked(c)
	}
	f := newFixture(t, withRevocations(revs))
	tok := f.mint(t, `{"userId":"user_alice"}`).SessionToken
	if !f.active(t, tok) {
		t.Fatal("inactive before the store went stale")
	}
	stale.Store(true)
	for _, c := range []struct{ name, ctype, body string }{
		{"form", formType, "token=" + url.QueryEscape(tok)},
		{"JSON", "application/json", `{"token":"` + tok + `"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := f.introspectRequest(t, f.service(t), c.ctype, c.body)
			checkError(t, resp, http.StatusServiceUnavailable, "revocation_state_unknown")
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n <= 0 {
				t.Errorf("Retry-After = %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
			}
			if bytes.Contains(resp.Body, []byte("active")) {
				t.Errorf("a verdict in a 503: %s", resp.Body)
			}
		})
	}
	t.Run("a token invalid on its own is still inactive", func(t *testing.T) {
		if f.active(t, "wst_test_a.b.c") {
			t.Error("garbage is active")
		}
	})
	stale.Store(false)
	if !f.active(t, tok) {
		t.Error("inactive once the store is fresh again")
	}
}
