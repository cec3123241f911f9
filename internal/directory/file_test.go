package directory_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/directory"
)

func TestParseFileAccepts(t *testing.T) {
	cases := []struct {
		name, doc string
		tenant    string
		user      string
		want      bool
	}{
		{"no tenants", `{"tenants": {}}`, "demo", "user_alice", false},
		{"tenant without users", `{"tenants": {"demo": {"users": []}}}`, "demo", "user_alice", false},
		{"repeated user", `{"tenants": {"demo": {"users": ["u", "u"]}}}`, "demo", "u", true},
		{"same user id in two tenants", `{"tenants": {"a": {"users": ["u"]}, "b": {"users": ["u"]}}}`, "b", "u", true},
		{"surrounding whitespace", " \n{\"tenants\": {\"demo\": {\"users\": [\"u\"]}}}\n ", "demo", "u", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := directory.ParseFile([]byte(tc.doc))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if got, _ := f.UserExists(t.Context(), tc.tenant, tc.user); got != tc.want {
				t.Errorf("UserExists(%q, %q) = %v, want %v", tc.tenant, tc.user, got, tc.want)
			}
		})
	}
}

func TestParseFileRejects(t *testing.T) {
	cases := []struct {
		name, doc, wantInErr string
	}{
		{"empty", ``, "unexpected end"},
		{"not JSON", `tenants: demo`, "invalid JSON"},
		{"truncated", `{"tenants": {"demo": {"users": ["u"]}}`, "unexpected end"},
		{"array", `[]`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"missing tenants", `{}`, `"tenants" is required`},
		{"unknown top-level member", `{"tenants": {}, "version": 1}`, `unknown member "version"`},
		{"member name in other case", `{"Tenants": {}}`, `unknown member "Tenants"`},
		{"tenants twice", `{"tenants": {"a": {"users": ["u"]}}, "tenants": {}}`, "more than once"},
		{"tenants null", `{"tenants": null}`, "must be a JSON object"},
		{"tenants array", `{"tenants": ["demo"]}`, "must be a JSON object"},
		{"tenant twice", `{"tenants": {"a": {"users": ["u"]}, "a": {"users": []}}}`, `"a" appears more than once`},
		{"tenant as array", `{"tenants": {"a": ["u"]}}`, "must be a JSON object"},
		{"unknown tenant member", `{"tenants": {"a": {"users": [], "roles": []}}}`, `unknown member "roles"`},
		{"missing users", `{"tenants": {"a": {}}}`, `"users" is required`},
		{"users null", `{"tenants": {"a": {"users": null}}}`, "array of strings"},
		{"users string", `{"tenants": {"a": {"users": "u"}}}`, "array of strings"},
		{"user number", `{"tenants": {"a": {"users": [1]}}}`, "array of strings"},
		{"user null", `{"tenants": {"a": {"users": [null]}}}`, "must not be empty"},
		{"empty user", `{"tenants": {"a": {"users": ["u", ""]}}}`, `users[1] "": user id: must not be empty`},
		{"empty tenant id", `{"tenants": {"": {"users": ["u"]}}}`, "tenant id: must not be empty"},
		{"user with a trailing space", `{"tenants": {"a": {"users": ["u "]}}}`, "whitespace"},
		{"user with a control character", `{"tenants": {"a": {"users": ["u\u0000"]}}}`, "control"},
		{"user too long", `{"tenants": {"a": {"users": ["` + strings.Repeat("u", 129) + `"]}}}`, "at most 128"},
		{"dot user", `{"tenants": {"a": {"users": ["."]}}}`, `must not be "."`},
		{"dot-dot user", `{"tenants": {"a": {"users": [".."]}}}`, `must not be ".."`},
		{"dot-dot tenant", `{"tenants": {"..": {"users": ["u"]}}}`, `must not be ".."`},
		{"invalid UTF-8", "{\"tenants\": {\"a\": {\"users\": [\"u\xff\"]}}}", "UTF-8"},
		{"trailing data", `{"tenants": {}} {}`, "after the object"},
		{"trailing garbage", `{"tenants": {}} x`, "after the object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := directory.ParseFile([]byte(tc.doc))
			if err == nil {
				t.Fatalf("ParseFile(%s) = %v, want an error", tc.doc, f)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("ParseFile(%s) error %q, want it to mention %q", tc.doc, err, tc.wantInErr)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(`{"tenants": {"demo": {"users": ["user_alice"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"tenants": {"demo": {"users": [""]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}

	f, err := directory.LoadFile(good)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if ok, err := f.UserExists(t.Context(), "demo", "user_alice"); !ok || err != nil {
		t.Errorf("UserExists = %v, %v; want true, nil", ok, err)
	}

	// An operator must learn which file is wrong.
	for _, path := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := directory.LoadFile(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadFile(%s) error = %v, want one naming the file", path, err)
		}
	}
}
