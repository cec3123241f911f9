package api

import (
	"encoding/json"
	"net/url"
	"testing"
)

// FuzzPlainTokenForm holds the introspection form's fast path to
// url.ParseQuery: whatever it takes, ParseQuery reads as exactly one
// member, token, with the same value.
func FuzzPlainTokenForm(f *testing.F) {
	for _, s := range []string{
		"token=wst_test_eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln-_", "token=", "token=a&token=b", "token=a%2Eb",
		"token=a+b", "token=a;b", "tokenx=a", "token_type_hint=access_token&token=a", "token=a&other=1", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, ok := plainTokenForm(body)
		if !ok {
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil || len(form) != 1 || len(form["token"]) != 1 || form.Get("token") != tok {
			t.Fatalf("%q: fast path %q, url.ParseQuery %v %v", body, tok, form, err)
		}
	})
}

// FuzzIntrospectionEncode holds the introspection answer to encoding/json:
// the same bytes, omitted members included, whether its strings take the
// fast path or not.
func FuzzIntrospectionEncode(f *testing.F) {
	f.Add(true, "widget", "user_alice", "demo", "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G", "https://sessions.causeflow.ai", "inc_1", int64(1700000000))
	f.Add(false, "", "", "", "", "", "", int64(0))
	f.Add(true, "", "a<b", "", `a"b`, "ünï", "", int64(-1))
	f.Fuzz(func(t *testing.T, active bool, scope, sub, tid, sid, iss, inc string, iat int64) {
		r := introspection{Active: active, Scope: scope, Subject: sub, Tenant: tid, SessionID: sid, ID: sid,
			Issuer: iss, Audience: iss, IssuedAt: iat, NotBefore: iat / 2, Expiry: iat * 2, Incident: inc}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendTo([]byte("x")); string(got) != "x"+string(want) {
			t.Fatalf("appendTo = %s\nwant x%s", got, want)
		}
	})
}
