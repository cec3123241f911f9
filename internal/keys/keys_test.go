package keys_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// kidPattern is a KSUID: 27 base62 characters, URL-safe as it is.
var kidPattern = regexp.MustCompile(`^[0-9A-Za-z]{27}$`)

func TestGenerate(t *testing.T) {
	tests := []struct {
		alg     string
		kty     jwa.KeyType
		isRight func(raw any) bool
	}{
		{token.AlgEdDSA, jwa.OKP(), func(raw any) bool { _, ok := raw.(ed25519.PrivateKey); return ok }},
		{token.AlgES256, jwa.EC(), func(raw any) bool {
			k, ok := raw.(*ecdsa.PrivateKey)
			return ok && k.Curve == elliptic.P256()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			k := genKey(t, tt.alg)
			if k.KeyType() != tt.kty {
				t.Errorf("kty = %s, want %s", k.KeyType(), tt.kty)
			}
			if private, err := jwk.IsPrivateKey(k); err != nil || !private {
				t.Errorf("IsPrivateKey = %v, %v; want true", private, err)
			}
			if kid := kidOf(t, k); !kidPattern.MatchString(kid) {
				t.Errorf("kid %q is not a KSUID", kid)
			}
			if alg, ok := k.Algorithm(); !ok || alg.String() != tt.alg {
				t.Errorf("alg = %v (set %v), want %s", alg, ok, tt.alg)
			}
			if use, ok := k.KeyUsage(); !ok || use != "sig" {
				t.Errorf("use = %q (set %v), want sig", use, ok)
			}
			var raw any
			if err := jwk.Export(k, &raw); err != nil {
				t.Fatal(err)
			}
			if !tt.isRight(raw) {
				t.Errorf("raw key is %T", raw)
			}
			// A generated key is exactly what Load accepts.
			set, err := keys.Load(writeSet(t, k), "")
			if err != nil {
				t.Fatalf("Load of a generated key: %v", err)
			}
			if set.ActiveKID() != kidOf(t, k) || set.ActiveAlg() != tt.alg {
				t.Errorf("active = %s/%s", set.ActiveKID(), set.ActiveAlg())
			}
		})
	}

	t.Run("kids differ", func(t *testing.T) {
		if a, b := kidOf(t, genKey(t, token.AlgEdDSA)), kidOf(t, genKey(t, token.AlgEdDSA)); a == b {
			t.Errorf("two keys share kid %q", a)
		}
	})
	t.Run("unsupported alg", func(t *testing.T) {
		for _, alg := range []string{"", "RS256", "HS256", "ES384", "none", "eddsa"} {
			if _, err := keys.Generate(alg); err == nil || !strings.HasPrefix(err.Error(), "keys: ") {
				t.Errorf("Generate(%q) error = %v, want a keys: error", alg, err)
			}
		}
	})
}

func TestAppendToFile(t *testing.T) {
	for _, alg := range []string{token.AlgEdDSA, token.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")

			kid1, err := keys.AppendToFile(path, alg)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			assertKeyFile(t, path, kid1)

			kid2, err := keys.AppendToFile(path, token.AlgEdDSA)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if kid2 == kid1 {
				t.Fatalf("same kid twice: %s", kid1)
			}
			assertKeyFile(t, path, kid1, kid2)

			// The file is what Load and the rotation expect.
			for _, kid := range []string{kid1, kid2} {
				set, err := keys.Load(path, kid)
				if err != nil {
					t.Fatalf("Load(%s): %v", kid, err)
				}
				if set.ActiveKID() != kid {
					t.Errorf("active = %s, want %s", set.ActiveKID(), kid)
				}
			}
			if set, _ := keys.Load(path, kid1); set.ActiveAlg() != alg {
				t.Errorf("first key alg = %s, want %s", set.ActiveAlg(), alg)
			}
		})
	}

	t.Run("keeps existing keys and members as written", func(t *testing.T) {
		existing := genKey(t, token.AlgES256)
		m := keyJSON(t, existing)
		m["x-note"] = "added by hand"
		path := filepath.Join(t.TempDir(), "keys.json")
		b, _ := json.Marshal(map[string]any{"keys": []any{m}, "comment": "prod signing keys"})
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		kid, err := keys.AppendToFile(path, token.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Keys    []map[string]any `json:"keys"`
			Comment string           `json:"comment"`
		}
		readJSON(t, path, &doc)
		if doc.Comment != "prod signing keys" || len(doc.Keys) != 2 {
			t.Fatalf("file = %+v", doc)
		}
		if doc.Keys[0]["x-note"] != "added by hand" || doc.Keys[0]["d"] != m["d"] || doc.Keys[1]["kid"] != kid {
			t.Errorf("existing key not kept as written: %v", doc.Keys[0])
		}
		assertMode(t, path) // 0644 before: a rewritten key file is 0600
	})

	t.Run("refuses", func(t *testing.T) {
		pub, err := genKey(t, token.AlgEdDSA).PublicKey()
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, alg string
			content   []byte // nil: no file
		}{
			{"unknown alg", "RS256", nil},
			{"a public key in the file", token.AlgEdDSA, mustJSON(t, map[string]any{"keys": []any{pub}})},
			{"a file that is not JSON", token.AlgEdDSA, []byte("not json")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "keys.json")
				if tt.content != nil {
					if err := os.WriteFile(path, tt.content, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := keys.AppendToFile(path, tt.alg); err == nil {
					t.Fatal("no error")
				}
				after, err := os.ReadFile(path)
				if tt.content == nil {
					if err == nil {
						t.Errorf("file created: %s", after)
					}
				} else if string(after) != string(tt.content) {
					t.Errorf("file changed to %s", after)
				}
				entries, _ := os.ReadDir(filepath.Dir(path))
				if want := min(len(tt.content), 1); len(entries) != want {
					t.Errorf("%d files left in the directory, want %d", len(entries), want)
				}
			})
		}
	})
}

// assertKeyFile checks that path is a 0600 JWK Set of private keys with
// exactly the kids given, in order, and nothing else in its directory.
func assertKeyFile(t *testing.T, path string, kids ...string) {
	t.Helper()
	assertMode(t, path)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	readJSON(t, path, &doc)
	if len(doc.Keys) != len(kids) {
		t.Fatalf("%d keys in file, want %d", len(doc.Keys), len(kids))
	}
	for i, k := range doc.Keys {
		if k["kid"] != kids[i] || k["d"] == nil || k["use"] != "sig" || k["alg"] == nil {
			t.Errorf("key %d = kid %v, has d %v, use %v, alg %v", i, k["kid"], k["d"] != nil, k["use"], k["alg"])
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func assertMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
