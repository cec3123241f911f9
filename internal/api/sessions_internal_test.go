package api

import (
	"encoding/json"
	"testing"
)

// TestCreateSessionResponseEncode: the mint's answer is the bytes
// encoding/json writes, for plain members and for each kind it escapes.
func TestCreateSessionResponseEncode(t *testing.T) {
	plain := createSessionResponse{
		SessionID: "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G", SessionToken: "wst_test_eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln-_",
		ExpiresAt: "2026-12-01T10:00:00Z", WidgetURL: "https://widget.example/embed?session=wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G&tenant=acme",
	}
	cases := []createSessionResponse{plain, {}}
	for _, odd := range []string{`a"b`, `a\b`, "a<b", "a>b", "a&b", "a\nb", "a\x7fb", "é", "\u2028"} {
		for i := range 4 {
			r := plain
			*[]*string{&r.SessionID, &r.SessionToken, &r.ExpiresAt, &r.WidgetURL}[i] = odd
			cases = append(cases, r)
		}
	}
	for _, r := range cases {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendTo(nil); string(got) != string(want) {
			t.Errorf("encode(%+v)\n = %s\nwant %s", r, got, want)
		}
	}
}
