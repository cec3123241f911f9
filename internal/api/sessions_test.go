package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/api"
)

// TestCreateSession mints sessions that should succeed and checks every
// promise of the 201: the response fields, its headers, and the token's
// header and claims.
func TestCreateSession(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		tenant  string
		roles   []string
		body    string
		ctype   string
		wantSub string
		wantTTL int64
		wantInc string // "" = no inc claim
	}{
		{name: "default ttl", tenant: "demo", roles: []string{"admin"},
			body: `{"userId":"user_alice"}`, wantSub: "user_alice", wantTTL: 28800},
		{name: "ttl 1", tenant: "demo", roles: []string{"admin"},
			body: `{"userId":"user_alice","ttlSeconds":1}`, wantSub: "user_alice", wantTTL: 1},
		{name: "ttl 86400", tenant: "demo", roles: []string{"admin"},
			body: `{"userId":"user_bob","ttlSeconds":86400}`, wantSub: "user_bob", wantTTL: 86400},
		{name: "incident", tenant: "demo", roles: []string{"admin"},
			body: `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`, wantSub: "user_alice", wantTTL: 28800, wantInc: "inc_EXAMPLE_01JX"},
		{name: "member role", tenant: "demo", roles: []string{"member"},
			body: `{"userId":"user_bob"}`, wantSub: "user_bob", wantTTL: 28800},
		{name: "viewer and member", tenant: "demo", roles: []string{"viewer", "member"},
			body: `{"userId":"user_bob"}`, wantSub: "user_bob", wantTTL: 28800},
		{name: "other tenant's own user", tenant: "acme", roles: []string{"admin"},
			body: `{"userId":"user_carol"}`, wantSub: "user_carol", wantTTL: 28800},
		{name: "charset parameter", tenant: "demo", roles: []string{"admin"}, ctype: "application/json; charset=utf-8",
			body: `{"userId":"user_alice"}`, wantSub: "user_alice", wantTTL: 28800},
		{name: "whitespace around the object", tenant: "demo", roles: []string{"admin"},
			body: " \n\t{ \"userId\" : \"user_alice\" }\n ", wantSub: "user_alice", wantTTL: 28800},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := mintCount(t, f.reg, "created")
			req := f.mintRequest(t, "Bearer "+f.callerToken(t, tt.tenant, "caller_1", tt.roles...), tt.body)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			before := time.Now().Truncate(time.Second)
			resp := f.do(t, req)
			after := time.Now()
			m := decodeCreated(t, resp)

			if !sessionIDPattern.MatchString(m.SessionID) {
				t.Errorf("sessionId = %q, want wsess_ + 27 base62", m.SessionID)
			}
			if !strings.HasPrefix(m.SessionToken, "wst_test_") {
				t.Errorf("sessionToken = %.20q..., want prefix wst_test_", m.SessionToken)
			}
			// The tenant tells /embed whose host pages may frame it.
			if want := widgetURLBase + "/embed?session=" + m.SessionID + "&tenant=" + tt.tenant; m.WidgetURL != want {
				t.Errorf("widgetUrl = %q, want %q", m.WidgetURL, want)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if id := resp.Header.Get(api.HeaderRequestID); !requestIDPattern.MatchString(id) {
				t.Errorf("X-Request-Id = %q, want a generated id", id)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}

			hdr, claims := decodeJWS(t, strings.TrimPrefix(m.SessionToken, "wst_test_"))
			wantHdr := map[string]any{"typ": "wst+jwt", "alg": "EdDSA", "kid": f.ring.Current().ActiveKID()}
			if len(hdr) != len(wantHdr) {
				t.Errorf("JWS header = %v, want exactly %v", hdr, wantHdr)
			}
			for k, v := range wantHdr {
				if hdr[k] != v {
					t.Errorf("JWS header %s = %v, want %v", k, hdr[k], v)
				}
			}

			iat, iatMs := claimInt(t, claims, "iat"), claimInt(t, claims, "iat_ms")
			if iatMs/1000 != iat {
				t.Errorf("iat_ms %d is not within iat %d", iatMs, iat)
			}
			wantClaims := map[string]any{
				"iss": sessionIssuer, "aud": sessionAudience, "sub": tt.wantSub, "tid": tt.tenant,
				"sid": m.SessionID, "jti": m.SessionID, "scope": "widget",
				"iat": json.Number(itoa(iat)), "nbf": json.Number(itoa(iat)), "exp": json.Number(itoa(iat + tt.wantTTL)),
				"iat_ms": json.Number(itoa(iatMs)),
			}
			if tt.wantInc != "" {
				wantClaims["inc"] = tt.wantInc
			}
			if len(claims) != len(wantClaims) {
				t.Errorf("claims = %v, want exactly the keys of %v", claims, wantClaims)
			}
			for k, v := range wantClaims {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if _, ok := claims["inc"]; ok && tt.wantInc == "" {
				t.Errorf("inc claim %v present without an incidentId", claims["inc"])
			}
			if got := time.Unix(iat, 0); got.Before(before) || got.After(after) {
				t.Errorf("iat = %v, want between %v and %v", got, before, after)
			}

			exp, err := time.Parse(time.RFC3339, m.ExpiresAt)
			if err != nil || !strings.HasSuffix(m.ExpiresAt, "Z") {
				t.Fatalf("expiresAt = %q, want RFC 3339 in UTC (Z): %v", m.ExpiresAt, err)
			}
			if want := iat + tt.wantTTL; exp.Unix() != want {
				t.Errorf("expiresAt = %s (%d), want iat+ttl = %d", m.ExpiresAt, exp.Unix(), want)
			}

			if got := mintCount(t, f.reg, "created"); got != created+1 {
				t.Errorf("mints_total{created} = %v, want %v", got, created+1)
			}
		})
	}
}

// TestCreateSessionTokensAreDistinct guards against a session id or token
// repeated between two mints in the same second.
func TestCreateSessionTokensAreDistinct(t *testing.T) {
	f := newFixture(t)
	seen := map[string]bool{}
	for range 5 {
		m := f.mint(t, `{"userId":"user_alice"}`)
		if seen[m.SessionID] || seen[m.SessionToken] {
			t.Fatalf("session id or token repeated: %s", m.SessionID)
		}
		seen[m.SessionID], seen[m.SessionToken] = true, true
	}
}

// TestCreateSessionVerifiesInProcess checks the minted token against the
// ring's own public keys (the JWKS test does it over HTTP).
func TestCreateSessionVerifiesInProcess(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, `{"userId":"user_alice","incidentId":"inc_1"}`)
	tok, err := verifyWith(f.ring.Current().PublicSet(), m.SessionToken)
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if sub, _ := tok.Subject(); sub != "user_alice" {
		t.Errorf("sub = %q", sub)
	}
	var inc string
	if err := tok.Get("inc", &inc); err != nil || inc != "inc_1" {
		t.Errorf("inc = %q, %v", inc, err)
	}
}

// TestSuccessLogLine checks that a mint's access log line carries the
// request id, route, status, tenant and session id.
func TestSuccessLogLine(t *testing.T) {
	f := newFixture(t)
	resp := f.do(t, f.mintRequest(t, f.bearer(t), `{"userId":"user_alice"}`))
	m := decodeCreated(t, resp)
	entries := f.logs.withRequestID(t, resp.Header.Get(api.HeaderRequestID))
	if len(entries) != 1 {
		t.Fatalf("log entries for the request = %v, want one", entries)
	}
	want := map[string]any{
		"msg": "request", "method": http.MethodPost, "route": mintPath, "status": float64(201),
		"tenant": "demo", "session": m.SessionID,
	}
	for k, v := range want {
		if entries[0][k] != v {
			t.Errorf("log %s = %v, want %v", k, entries[0][k], v)
		}
	}
	if _, ok := entries[0]["errorCode"]; ok {
		t.Errorf("success logged with an error code: %v", entries[0])
	}
}

func claimInt(t testing.TB, claims map[string]any, name string) int64 {
	t.Helper()
	n, ok := claims[name].(json.Number)
	if !ok {
		t.Fatalf("claim %s = %#v, want a number", name, claims[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %s = %s, want an integer", name, n)
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
