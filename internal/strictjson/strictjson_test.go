package strictjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/strictjson"
)

func TestParseObject(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantField string // "" with wantErr: a body-level error
		wantErr   string // substring of the message; "" = success
	}{
		{"object", `{"a":"x","b":1}`, "", ""},
		{"empty object", `{}`, "", ""},
		{"whitespace around", " \n{\"a\":\"x\"}\t", "", ""},
		{"empty body", ``, "", "empty body"},
		{"blank body", "  ", "", "empty body"},
		{"array", `["a"]`, "", "must be a JSON object"},
		{"string", `"a"`, "", "must be a JSON object"},
		{"null", `null`, "", "must be a JSON object"},
		{"not json", `userId=x`, "", "not valid JSON"},
		{"truncated", `{"a":"x"`, "", "not valid JSON"},
		{"trailing object", `{"a":"x"}{"a":"y"}`, "", "data after it"},
		{"trailing garbage", `{"a":"x"} x`, "", "data after it"},
		{"duplicate key", `{"a":"x","a":"y"}`, "a", "more than once"},
		{"unknown key", `{"a":"x","z":1}`, "z", "not a known field"},
		{"case matters", `{"A":"x"}`, "A", "not a known field"},
		{"invalid utf8", "{\"a\":\"\xff\"}", "", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := strictjson.ParseObject([]byte(tt.body), "a", "b")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseObject(%q) = %v, want success", tt.body, err)
				}
				return
			}
			var se *strictjson.Error
			if !errors.As(err, &se) {
				t.Fatalf("ParseObject(%q) = %v, want *strictjson.Error", tt.body, err)
			}
			if se.Field != tt.wantField || !strings.Contains(se.Error(), tt.wantErr) {
				t.Fatalf("ParseObject(%q) = field %q, %q; want field %q containing %q", tt.body, se.Field, se.Error(), tt.wantField, tt.wantErr)
			}
		})
	}
}

func TestMembersTypes(t *testing.T) {
	strs := []struct {
		raw  string
		want string
		ok   bool
	}{
		{`"x"`, "x", true}, {`"\u00e9"`, "é", true}, {`""`, "", true},
		{`"\ud83d\ude00"`, "😀", true}, {`"\ufffd"`, "\ufffd", true}, {`"\\ud800"`, `\ud800`, true},
		{`"\ud800"`, "", false}, {`"a\udc00b"`, "", false}, {`"\ud83dx"`, "", false}, {`"\ud83d\u0041"`, "", false},
		{`1`, "", false}, {`null`, "", false}, {`true`, "", false}, {`["x"]`, "", false}, {`{"x":1}`, "", false},
	}
	for _, tt := range strs {
		t.Run("string "+tt.raw, func(t *testing.T) {
			m, err := strictjson.ParseObject([]byte(`{"a":`+tt.raw+`}`), "a")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.String("a")
			if (err == nil) != tt.ok || (tt.ok && *got != tt.want) {
				t.Fatalf("String(%s) = %v, %v; want %q ok=%v", tt.raw, got, err, tt.want, tt.ok)
			}
		})
	}
	ints := []struct {
		raw  string
		want int64
		ok   bool
	}{
		{`1`, 1, true}, {`0`, 0, true}, {`-5`, -5, true}, {`86400`, 86400, true},
		{`1.0`, 0, false}, {`1.5`, 0, false}, {`1e3`, 0, false}, {`"1"`, 0, false}, {`null`, 0, false},
		{`true`, 0, false}, {`99999999999999999999`, 0, false}, {`[1]`, 0, false},
	}
	for _, tt := range ints {
		t.Run("int "+tt.raw, func(t *testing.T) {
			m, err := strictjson.ParseObject([]byte(`{"a":`+tt.raw+`}`), "a")
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Int("a")
			if (err == nil) != tt.ok || (tt.ok && *got != tt.want) {
				t.Fatalf("Int(%s) = %v, %v; want %d ok=%v", tt.raw, got, err, tt.want, tt.ok)
			}
			if err != nil {
				var se *strictjson.Error
				if !errors.As(err, &se) || se.Field != "a" {
					t.Fatalf("Int(%s) error %v does not name the field", tt.raw, err)
				}
			}
		})
	}
	m, _ := strictjson.ParseObject([]byte(`{}`), "a")
	if s, err := m.String("a"); s != nil || err != nil {
		t.Fatalf("absent String = %v, %v; want nil, nil", s, err)
	}
	if n, err := m.Int("a"); n != nil || err != nil {
		t.Fatalf("absent Int = %v, %v; want nil, nil", n, err)
	}
}
