package token_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/token"
)

func TestUnwrap(t *testing.T) {
	tests := []struct {
		env, tok, want string
		err            error
	}{
		{token.EnvTest, "wst_test_a.b.c", "a.b.c", nil},
		{token.EnvLive, "wst_live_a.b.c", "a.b.c", nil},
		{token.EnvLive, "wst_test_a.b.c", "", token.ErrWrongEnvironment},
		{token.EnvTest, "wst_live_a.b.c", "", token.ErrWrongEnvironment},
		{token.EnvTest, "a.b.c", "", token.ErrMalformed},
		{token.EnvTest, "wst_prod_a.b.c", "", token.ErrMalformed},
		{token.EnvTest, "WST_TEST_a.b.c", "", token.ErrMalformed},
		{token.EnvTest, "", "", token.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.env+" "+tt.tok, func(t *testing.T) {
			got, err := token.Unwrap(tt.env, tt.tok)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Unwrap(%q, %q) = %q, %v; want %q, %v", tt.env, tt.tok, got, err, tt.want, tt.err)
			}
		})
	}
	if token.Wrap(token.EnvLive, "x.y.z") != "wst_live_x.y.z" {
		t.Fatal("Wrap does not prefix wst_live_")
	}
}

// FuzzClaimsEncode holds Claims.AppendEncode to encoding/json: the same bytes,
// whether the strings take the fast path or not.
func FuzzClaimsEncode(f *testing.F) {
	f.Add("https://widget-sessions.causeflow.io", "causeflow-widget", "user_alice", "demo", "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G", "inc_1", int64(1700000000), int64(1700000000123))
	f.Add("iss", "aud", "ünï", "a<b", `a"b`, "", int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, iss, aud, sub, tid, sid, inc string, iat, iatMs int64) {
		c := token.Claims{Issuer: iss, Audience: aud, Subject: sub, Tenant: tid, SessionID: sid, ID: sid,
			IssuedAt: iat, NotBefore: iat, Expiry: iat + 900, Incident: inc, Scope: token.Scope, IssuedAtMs: iatMs}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.AppendEncode(nil); string(got) != string(want) {
			t.Fatalf("AppendEncode = %s\nencoding/json %s", got, want)
		}
		if got := c.AppendEncode([]byte("x")); string(got) != "x"+string(want) {
			t.Fatalf("AppendEncode = %s\nwant x%s", got, want)
		}
	})
}
