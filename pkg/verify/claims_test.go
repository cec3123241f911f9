package verify_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

func TestVerifyClaims(t *testing.T) {
	iss := newIssuer(t)
	v := iss.Verifier(t, verify.NoRevocation)
	now := t0.Unix()
	edit := func(f func(m map[string]any)) string {
		m := payloadMap(t, iss, token.Claims{})
		f(m)
		return iss.MintRaw(iss.Header(), mustJSON(t, m))
	}
	const sid = "wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq"

	type tc struct {
		name string
		tok  string
		want error
	}
	cases := []tc{
		{"wrong iss", iss.Mint(token.Claims{Issuer: "https://evil.example"}), verify.ErrInvalidClaims},
		{"wrong aud", iss.Mint(token.Claims{Audience: "another-service"}), verify.ErrInvalidClaims},
		{"aud as an array", edit(func(m map[string]any) { m["aud"] = []string{iss.Config().Audience} }), verify.ErrInvalidClaims},
		{"wrong scope", iss.Mint(token.Claims{Scope: "admin"}), verify.ErrInvalidClaims},
		{"empty sub", edit(func(m map[string]any) { m["sub"] = "" }), verify.ErrInvalidClaims},
		{"empty tid", edit(func(m map[string]any) { m["tid"] = "" }), verify.ErrInvalidClaims},
		{"sid differs from jti", iss.Mint(token.Claims{SessionID: sid, ID: "wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xr"}), verify.ErrInvalidClaims},
		{"sid not a session id", iss.Mint(token.Claims{SessionID: "sess_1", ID: "sess_1"}), verify.ErrInvalidClaims},
		{"sid of 26 digits", iss.Mint(token.Claims{SessionID: sid[:32], ID: sid[:32]}), verify.ErrInvalidClaims},
		{"sid not base62", iss.Mint(token.Claims{SessionID: sid[:32] + "-", ID: sid[:32] + "-"}), verify.ErrInvalidClaims},
		{"sid beyond the largest KSUID", iss.Mint(token.Claims{SessionID: "wsess_zzzzzzzzzzzzzzzzzzzzzzzzzzz", ID: "wsess_zzzzzzzzzzzzzzzzzzzzzzzzzzz"}), verify.ErrInvalidClaims},
		{"iss null", edit(func(m map[string]any) { m["iss"] = nil }), verify.ErrInvalidClaims},
		{"exp as a string", edit(func(m map[string]any) { m["exp"] = "1773504566" }), verify.ErrInvalidClaims},
		{"exp with a fraction", edit(func(m map[string]any) { m["exp"] = float64(now) + 0.5 }), verify.ErrInvalidClaims},
		{"iat negative", edit(func(m map[string]any) { m["iat"] = -1 }), verify.ErrInvalidClaims},
		{"exp after the year 9999", iss.Mint(token.Claims{IssuedAt: 253402300800, NotBefore: now, Expiry: 253402300801}), verify.ErrInvalidClaims},
		{"exp - iat over 24h", iss.Mint(token.Claims{Expiry: now + 86401}), verify.ErrInvalidClaims},
		{"exp - iat of centuries", iss.Mint(token.Claims{IssuedAt: now - 3600, NotBefore: now, Expiry: 253402300799}), verify.ErrInvalidClaims},
		{"exp equal to iat", iss.Mint(token.Claims{Expiry: now}), verify.ErrInvalidClaims},
		{"exp before iat", iss.Mint(token.Claims{Expiry: now - 1}), verify.ErrInvalidClaims},
		{"expired beyond the leeway", iss.Mint(token.Claims{IssuedAt: now - 3600, Expiry: now - 30}), verify.ErrExpired},
		{"nbf beyond the leeway", iss.Mint(token.Claims{NotBefore: now + 31}), verify.ErrNotYetValid},
		{"iat beyond the leeway", iss.Mint(token.Claims{IssuedAt: now + 31, NotBefore: now}), verify.ErrNotYetValid},
		{"iat_ms in the next second", iss.Mint(token.Claims{IssuedAtMs: (now + 1) * 1000}), verify.ErrInvalidClaims},
		{"iat_ms in the previous second", iss.Mint(token.Claims{IssuedAtMs: now*1000 - 1}), verify.ErrInvalidClaims},
		{"iat_ms zero", edit(func(m map[string]any) { m["iat_ms"] = 0 }), verify.ErrInvalidClaims},
		{"iat_ms as a string", edit(func(m map[string]any) { m["iat_ms"] = strconv.FormatInt(now*1000, 10) }), verify.ErrInvalidClaims},
		{"iat_ms with a fraction", edit(func(m map[string]any) { m["iat_ms"] = float64(now*1000) + 0.5 }), verify.ErrInvalidClaims},
	}
	for _, name := range []string{"iss", "aud", "sub", "tid", "sid", "jti", "iat", "nbf", "exp", "scope"} {
		cases = append(cases, tc{"missing " + name, edit(func(m map[string]any) { delete(m, name) }), verify.ErrInvalidClaims})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErr(t, v, c.tok, c.want) })
	}
}

func TestVerifyClaimsAccepted(t *testing.T) {
	iss := newIssuer(t)
	v := iss.Verifier(t, verify.NoRevocation)
	now := t0.Unix()
	for _, tc := range []struct {
		name    string
		payload string // a JSON object, or empty for Mint(claims)
		claims  token.Claims
	}{
		{name: "expired within the leeway", claims: token.Claims{IssuedAt: now - 3600, Expiry: now - 29}},
		{name: "nbf within the leeway", claims: token.Claims{NotBefore: now + 30}},
		{name: "iat within the leeway", claims: token.Claims{IssuedAt: now + 30, NotBefore: now}},
		{name: "exp - iat of exactly 24h", claims: token.Claims{Expiry: now + 86400}},
		{name: "no inc", claims: token.Claims{}},
		{name: "iat_ms at the start of iat's second", claims: token.Claims{IssuedAtMs: now * 1000}},
		{name: "iat_ms at the end of iat's second", claims: token.Claims{IssuedAtMs: now*1000 + 999}},
		{name: "escaped strings", payload: `{"iss":"https:\/\/sessions.verifytest.invalid","aud":"widget-verifytest","sub":"user\u005falice","tid":"t","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":NOW,"nbf":NOW,"exp":EXP,"scope":"widget"}`},
		{name: "unknown claims ignored", payload: `{"ver":{"a":[1,2]},"iss":"https://sessions.verifytest.invalid","aud":"widget-verifytest","sub":"user_alice","tid":"t","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":NOW,"nbf":NOW,"exp":EXP,"scope":"widget","x":null}`},
		{name: "spaced out", payload: " {\n\t\"iss\" : \"https://sessions.verifytest.invalid\" , \"aud\":\"widget-verifytest\",\"sub\":\"user_alice\",\"tid\":\"t\",\"sid\":\"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq\",\"jti\":\"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq\",\"iat\": NOW ,\"nbf\":NOW,\"exp\":EXP,\"scope\":\"widget\"}\r\n"},
		// Past the stack buffer, within MaxTokenSize: the heap path.
		{name: "large payload", payload: `{"pad":"` + strings.Repeat("p", 5000) + `","iss":"https://sessions.verifytest.invalid","aud":"widget-verifytest","sub":"user_alice","tid":"t","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":NOW,"nbf":NOW,"exp":EXP,"scope":"widget"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := iss.Mint(tc.claims)
			if tc.payload != "" {
				p := strings.NewReplacer("NOW", strconv.FormatInt(now, 10), "EXP", strconv.FormatInt(now+3600, 10)).Replace(tc.payload)
				tok = iss.MintRaw(iss.Header(), []byte(p))
			}
			c := wantOK(t, v, tok)
			if tc.payload != "" && (c.Subject != "user_alice" || c.Issuer != "https://sessions.verifytest.invalid" || c.Expiry != now+3600) {
				t.Errorf("claims = %+v", *c)
			}
		})
	}
}

func TestVerifyLeewayAndLifetimeConfig(t *testing.T) {
	iss := newIssuer(t)
	now := t0.Unix()
	cfg := iss.Config()
	cfg.Leeway = 5 * time.Second
	cfg.MaxLifetime = time.Hour
	v, err := verify.New(cfg, iss.Keys(), verify.NoRevocation)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, v, iss.Mint(token.Claims{IssuedAt: now - 600, Expiry: now - 4}))
	wantErr(t, v, iss.Mint(token.Claims{IssuedAt: now - 600, Expiry: now - 5}), verify.ErrExpired)
	wantErr(t, v, iss.Mint(token.Claims{NotBefore: now + 6}), verify.ErrNotYetValid)
	wantOK(t, v, iss.Mint(token.Claims{Expiry: now + 3600}))
	wantErr(t, v, iss.Mint(token.Claims{Expiry: now + 3601}), verify.ErrInvalidClaims)

	// The clock is read per token: a token expires while the verifier
	// lives.
	var clock atomic.Int64
	clock.Store(now)
	cfg = iss.Config()
	cfg.Now = func() time.Time { return time.Unix(clock.Load(), 0) }
	v, err = verify.New(cfg, iss.Keys(), verify.NoRevocation)
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Mint(token.Claims{})
	wantOK(t, v, tok)
	clock.Store(now + 3600 + 30)
	wantErr(t, v, tok, verify.ErrExpired)
}

func TestVerifyRevocation(t *testing.T) {
	iss := newIssuer(t)
	revokedTok := iss.Mint(token.Claims{})
	c := wantOK(t, iss.Verifier(t, nil), revokedTok)
	revoked := map[string]bool{c.SessionID: true}
	var asked atomic.Int32
	rev := verify.RevocationFunc(func(c *token.Claims) (bool, error) {
		asked.Add(1)
		return revoked[c.SessionID], nil
	})
	v := iss.Verifier(t, rev)
	wantErr(t, v, revokedTok, verify.ErrRevoked)
	wantOK(t, v, iss.Mint(token.Claims{}))
	if n := asked.Load(); n != 2 {
		t.Errorf("checker asked %d times, want 2", n)
	}
	// Only tokens that pass every other check reach the checker.
	wantErr(t, v, iss.Mint(token.Claims{Audience: "x"}), verify.ErrInvalidClaims)
	if n := asked.Load(); n != 2 {
		t.Errorf("checker asked about an invalid token")
	}

	stale := errors.New("revocation mirror stale for 12s")
	failing := iss.Verifier(t, verify.RevocationFunc(func(*token.Claims) (bool, error) { return false, stale }))
	err := wantErr(t, failing, iss.Mint(token.Claims{}), verify.ErrRevocationUnknown)
	if !errors.Is(err, stale) {
		t.Errorf("error %v does not wrap the checker's", err)
	}
	// An error wins over a "not revoked" answer and over a "revoked" one:
	// fail closed with the reason that tells the caller to retry.
	both := iss.Verifier(t, verify.RevocationFunc(func(*token.Claims) (bool, error) { return true, stale }))
	wantErr(t, both, iss.Mint(token.Claims{}), verify.ErrRevocationUnknown)

	if revokedNone, err := verify.NoRevocation.IsRevoked(&token.Claims{}); revokedNone || err != nil {
		t.Errorf("NoRevocation.IsRevoked = %v, %v", revokedNone, err)
	}
	if _, err := v.Verify(context.Background(), revokedTok); !errors.Is(err, verify.ErrRevoked) {
		t.Errorf("revoked token verified on a second try: %v", err)
	}
}
