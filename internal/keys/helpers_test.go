package keys_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/internal/keys"
)

// genKey generates a key for alg or fails the test.
func genKey(t testing.TB, alg string) jwk.Key {
	t.Helper()
	k, err := keys.Generate(alg)
	if err != nil {
		t.Fatalf("Generate(%q): %v", alg, err)
	}
	return k
}

// kidOf returns the kid of k.
func kidOf(t testing.TB, k jwk.Key) string {
	t.Helper()
	kid, ok := k.KeyID()
	if !ok {
		t.Fatal("key has no kid")
	}
	return kid
}

// keyJSON returns the JSON of k as a generic object, to be bent by a test.
func keyJSON(t testing.TB, k jwk.Key) map[string]any {
	t.Helper()
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// writeSet writes {"keys": ks} to a fresh file and returns its path. Each
// element is a jwk.Key or a map from keyJSON.
func writeSet(t testing.TB, ks ...any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	rewriteSet(t, path, ks...)
	return path
}

// rewriteSet replaces the file at path with {"keys": ks}.
func rewriteSet(t testing.TB, path string, ks ...any) {
	t.Helper()
	if ks == nil {
		ks = []any{}
	}
	b, err := json.Marshal(map[string]any{"keys": ks})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// claims is a valid payload for jwt.Parse.
func claims(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"iss": "https://sessions.test", "sub": "user-1", "tid": "tenant-1",
		"iat": 1700000000, "nbf": 1700000000, "exp": 4102444800,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
