package jsonwrite_test

import (
	"encoding/json"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/jsonwrite"
)

// FuzzAgreesWithEncodingJSON: Plain accepts only strings json.Marshal
// writes as they are (it may refuse some that it would, such as "é": those
// take the slow path), and for them an Object is the bytes json.Marshal
// writes for the same struct.
func FuzzAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{"user_alice", "", `a"b`, `a\b`, "a<b>&", "é", "\u2028", "a\nb", "\x7f", "https://x.example/embed?session=a"} {
		f.Add(s, int64(-7))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		q, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if jsonwrite.Plain(s) && string(q) != `"`+s+`"` {
			t.Fatalf("Plain(%q) = %v, but encoding/json writes %s", s, jsonwrite.Plain(s), q)
		}
		if !jsonwrite.Plain(s) {
			return
		}
		want, err := json.Marshal(struct {
			A string `json:"a"`
			N int64  `json:"n"`
			B string `json:"b_c"`
		}{s, n, s})
		if err != nil {
			t.Fatal(err)
		}
		got := jsonwrite.Begin(8).String("a", s).Int("n", n).String("b_c", s).End()
		if string(got) != string(want) {
			t.Fatalf("Object = %s, encoding/json %s", got, want)
		}
		if empty := jsonwrite.Begin(0).End(); string(empty) != "{}" {
			t.Fatalf("empty object = %s", empty)
		}
	})
}
