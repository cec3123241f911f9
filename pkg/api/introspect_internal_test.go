package api

import (
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
