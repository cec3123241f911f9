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
	for _, s := range []string{"user_alice", "", `a"b`, `a\b`, "a<b>&", "é", "\u2028", "a\nb", "\x7f", "https://x.example/embed?session=a", "https://x.example/embed?session=a&tenant=b%20c", "<&>"} {
		f.Add(s, int64(-7))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		q, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if jsonwrite.PlainHTML(s) {
			want, _ := json.Marshal(struct {
				U string `json:"u"`
			}{s})
			if got := jsonwrite.Append(nil, 8).StringHTML("u", s).End(); string(got) != string(want) {
				t.Fatalf("StringHTML = %s, encoding/json %s", got, want)
			}
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
		got := jsonwrite.Append(nil, 8).String("a", s).Int("n", n).String("b_c", s).End()
		if string(got) != string(want) {
			t.Fatalf("Object = %s, encoding/json %s", got, want)
		}
		if got := jsonwrite.Append([]byte("x"), 8).String("a", s).Int("n", n).String("b_c", s).End(); string(got) != "x"+string(want) {
			t.Fatalf("Append after x = %s, want x%s", got, want)
		}
		if empty := jsonwrite.Append(nil, 0).End(); string(empty) != "{}" {
			t.Fatalf("empty object = %s", empty)
		}
	})
}

// FuzzPlainWords: Plain, eight bytes at a time, answers as a byte-by-byte
// check of the same rule does, for every string and every alignment.
func FuzzPlainWords(f *testing.F) {
	for _, s := range []string{"wst_test_eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1In0.c2ln-_", "abcdefg\x7f", "abcdefgh\x1f", "\xff\xfe", `abcdefg"`, "abcdefgh&ijklmnop", "~~~~~~~~", "        "} {
		f.Add(s)
	}
	byByte := func(s string) bool {
		for _, c := range []byte(s) {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
		return true
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i <= len(s) && i < 8; i++ {
			if got, want := jsonwrite.Plain(s[i:]), byByte(s[i:]); got != want {
				t.Fatalf("Plain(%q) = %v, want %v", s[i:], got, want)
			}
		}
	})
}
