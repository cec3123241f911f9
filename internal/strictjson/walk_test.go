package strictjson_test

import (
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/strictjson"
)

func TestWalk(t *testing.T) {
	ms, err := strictjson.Walk([]byte(`{"demo": {"users": []}, "a|b": 1}`))
	if err != nil || len(ms) != 2 || ms[0].Name != "demo" || ms[1].Name != "a|b" || string(ms[1].Value) != "1" {
		t.Fatalf("Walk = %+v, %v", ms, err)
	}
	if v, ok := strictjson.MemberNamed(ms, "demo"); !ok || string(v) != `{"users": []}` {
		t.Fatalf("MemberNamed = %s, %v", v, ok)
	}
	if err := strictjson.OnlyMembers(ms, "demo"); err == nil || !strings.Contains(err.Error(), `unknown member "a|b"`) {
		t.Fatalf("OnlyMembers = %v", err)
	}
	for body, want := range map[string]string{
		`[]`:            "must be a JSON object",
		`{"a":1,"a":2}`: `"a" appears more than once`,
		`{"a":1} {}`:    "unexpected data after the object",
		`{"a":`:         "unexpected end of input",
		`{"a":1,}`:      "invalid JSON",
	} {
		if _, err := strictjson.Walk([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Walk(%s) = %v, want %q", body, err, want)
		}
	}
}
