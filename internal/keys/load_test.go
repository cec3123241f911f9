package keys_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// importKey makes a JWK of a raw key with a kid.
func importKey(t *testing.T, raw any, kid string) jwk.Key {
	t.Helper()
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadRejects(t *testing.T) {
	ed, ed2, ec := genKey(t, token.AlgEdDSA), genKey(t, token.AlgEdDSA), genKey(t, token.AlgES256)
	edKID, ecKID := kidOf(t, ed), kidOf(t, ec)
	edPub, err := ed.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := ec.PublicKey()
	if err != nil {
		t.Fatal(err)
	}

	rsaRaw, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384Raw, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519Raw, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")

	// with returns ed's JSON with the given members changed (nil removes).
	with := func(k jwk.Key, changes map[string]any) map[string]any {
		m := keyJSON(t, k)
		for name, v := range changes {
			if v == nil {
				delete(m, name)
			} else {
				m[name] = v
			}
		}
		return m
	}
	otherD := keyJSON(t, genKey(t, token.AlgES256))["d"]

	tests := []struct {
		name   string
		keys   []any // nil: the file holds the content below
		raw    string
		active string
		want   string // in the error
	}{
		{name: "public Ed25519 key", keys: []any{edPub}, want: "not a private key"},
		{name: "public P-256 key", keys: []any{ec, ecPub}, active: ecKID, want: "not a private key"},
		{name: "duplicate kid", keys: []any{ed, with(ed2, map[string]any{"kid": edKID})}, active: edKID, want: "duplicate kid"},
		{name: "missing kid", keys: []any{with(ed, map[string]any{"kid": nil})}, want: "key #0: missing kid"},
		{name: "empty kid", keys: []any{ec, with(ed, map[string]any{"kid": ""})}, active: ecKID, want: "key #1: missing kid"},
		{name: "RSA", keys: []any{importKey(t, rsaRaw, "rsa-1")}, want: `"rsa-1": RSA keys are not supported`},
		{name: "oct", keys: []any{importKey(t, secret, "hmac-1")}, want: `"hmac-1": symmetric (oct) keys are not supported`},
		{name: "P-384", keys: []any{importKey(t, p384Raw, "p384")}, want: `"p384": curve P-384 is not supported`},
		{name: "X25519", keys: []any{importKey(t, x25519Raw, "x25519")}, want: `"x25519": OKP key on curve "X25519" is not supported`},
		{name: "Ed25519 claiming ES256", keys: []any{with(ed, map[string]any{"alg": "ES256"})}, want: `alg "ES256" contradicts the key type (want EdDSA)`},
		{name: "P-256 claiming EdDSA", keys: []any{with(ec, map[string]any{"alg": "EdDSA"})}, want: `alg "EdDSA" contradicts the key type (want ES256)`},
		{name: "P-256 claiming ES384", keys: []any{with(ec, map[string]any{"alg": "ES384"})}, want: `alg "ES384" contradicts`},
		{name: "encryption key", keys: []any{with(ed, map[string]any{"use": "enc"})}, want: `use "enc" is not "sig"`},
		{name: "P-256 d of another key", keys: []any{with(ec, map[string]any{"d": otherD})}, want: `"d" does not match "x" and "y"`},
		{name: "Ed25519 x of another key", keys: []any{with(ed, map[string]any{"x": keyJSON(t, ed2)["x"]})}, want: edKID},
		{name: "d not base64", keys: []any{with(ed, map[string]any{"d": "SECRET-not-base64!"})}, want: edKID},
		{name: "d not a string", keys: []any{with(ed, map[string]any{"d": 1234567890123})}, want: edKID},
		{name: "unknown active kid", keys: []any{ed, ec}, active: "nope", want: `active kid "nope" is not in the key set`},
		{name: "ambiguous active", keys: []any{ed, ec}, want: "holds 2 keys: the active kid must be given"},
		{name: "empty set", keys: []any{}, want: "empty"},
		{name: "not JSON", raw: `{"keys": [`, want: "not a JWK Set"},
		{name: "keys not a list", raw: `{"keys": {"kty": "OKP"}}`, want: "not a JWK Set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.json")
			content := []byte(tt.raw)
			if tt.keys != nil {
				content = mustJSON(t, map[string]any{"keys": tt.keys})
			}
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			set, err := keys.Load(path, tt.active)
			if err == nil {
				t.Fatalf("Load accepted it: active %s", set.ActiveKID())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "keys: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want a keys: error containing %q", msg, tt.want)
			}
			assertNoSecrets(t, msg, content)
		})
	}

	t.Run("missing file", func(t *testing.T) {
		_, err := keys.Load(filepath.Join(t.TempDir(), "nope.json"), "")
		if err == nil || !strings.HasPrefix(err.Error(), "keys: ") || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error = %v, want a keys: error wrapping not-exist", err)
		}
	})
}

// assertNoSecrets fails if msg quotes any private member of the keys in
// content, or the SECRET marker that the malformed cases carry.
func assertNoSecrets(t *testing.T, msg string, content []byte) {
	t.Helper()
	if strings.Contains(msg, "SECRET") {
		t.Errorf("error quotes key material: %s", msg)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if json.Unmarshal(content, &doc) != nil {
		return
	}
	for _, k := range doc.Keys {
		for _, name := range []string{"d", "k", "p", "q", "dp", "dq", "qi"} {
			v, ok := k[name]
			if !ok {
				continue
			}
			s, _ := json.Marshal(v)
			if secret := strings.Trim(string(s), `"`); len(secret) > 8 && strings.Contains(msg, secret) {
				t.Errorf("error quotes %q of a key: %s", name, msg)
			}
		}
	}
}

func TestLoadActive(t *testing.T) {
	ed, ec := genKey(t, token.AlgEdDSA), genKey(t, token.AlgES256)
	path := writeSet(t, ed, ec)
	for _, k := range []jwk.Key{ed, ec} {
		kid := kidOf(t, k)
		t.Run(kid, func(t *testing.T) {
			set, err := keys.Load(path, kid)
			if err != nil {
				t.Fatal(err)
			}
			alg, _ := k.Algorithm()
			if set.ActiveKID() != kid || set.ActiveAlg() != alg.String() {
				t.Errorf("active = %s/%s, want %s/%s", set.ActiveKID(), set.ActiveAlg(), kid, alg)
			}
		})
	}
	t.Run("no alg in the file: taken from the key", func(t *testing.T) {
		m := keyJSON(t, ec)
		delete(m, "alg")
		delete(m, "use")
		set, err := keys.Load(writeSet(t, m), "")
		if err != nil {
			t.Fatal(err)
		}
		if set.ActiveAlg() != token.AlgES256 {
			t.Errorf("alg = %s, want ES256", set.ActiveAlg())
		}
	})
}

func TestJWKS(t *testing.T) {
	ed, ec := genKey(t, token.AlgEdDSA), genKey(t, token.AlgES256)
	edJSON := keyJSON(t, ed)
	// Fields a hand-edited file may carry that must not be published.
	edJSON["x-note"] = "rotated in by ops"
	edJSON["key_ops"] = []string{"sign"}
	path := writeSet(t, edJSON, ec)

	set, err := keys.Load(path, kidOf(t, ec))
	if err != nil {
		t.Fatal(err)
	}
	body, etag := set.JWKS()

	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, body)
	}
	want := map[string][]string{ // kid -> exactly its members
		kidOf(t, ed): {"alg", "crv", "kid", "kty", "use", "x"},
		kidOf(t, ec): {"alg", "crv", "kid", "kty", "use", "x", "y"},
	}
	if len(doc.Keys) != len(want) {
		t.Fatalf("%d keys published, want %d: %s", len(doc.Keys), len(want), body)
	}
	for i, k := range doc.Keys {
		kid, _ := k["kid"].(string)
		members := make([]string, 0, len(k))
		for name := range k {
			members = append(members, name)
		}
		if got := strings.Join(slices.Sorted(slices.Values(members)), ","); got != strings.Join(want[kid], ",") {
			t.Errorf("key %d (%s) has members %s, want %s", i, kid, got, strings.Join(want[kid], ","))
		}
		if k["use"] != "sig" {
			t.Errorf("key %s use = %v", kid, k["use"])
		}
		for _, name := range []string{"x", "y", "crv"} {
			if src := map[string]map[string]any{kidOf(t, ed): edJSON, kidOf(t, ec): keyJSON(t, ec)}[kid]; k[name] != src[name] {
				t.Errorf("key %s %s = %v, want %v", kid, name, k[name], src[name])
			}
		}
	}
	if strings.Contains(string(body), `"d"`) {
		t.Errorf(`JWKS contains "d": %s`, body)
	}

	// The body parses as a set of public keys.
	pub, err := jwk.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pub.Len() {
		k, _ := pub.Key(i)
		if private, _ := jwk.IsPrivateKey(k); private {
			t.Errorf("key %d is private", i)
		}
	}

	t.Run("etag", func(t *testing.T) {
		if len(etag) != 34 || etag[0] != '"' || etag[33] != '"' || strings.Trim(etag[1:33], "0123456789abcdef") != "" {
			t.Errorf("etag %s is not a quoted 32-hex strong ETag", etag)
		}
		again, _ := keys.Load(path, kidOf(t, ed)) // another replica, another active key
		body2, etag2 := again.JWKS()
		if etag2 != etag || string(body2) != string(body) {
			t.Errorf("same keys, different JWKS: %s vs %s", etag, etag2)
		}
		if _, etag3 := set.JWKS(); etag3 != etag {
			t.Errorf("etag changed between calls: %s vs %s", etag, etag3)
		}

		grown := writeSet(t, edJSON, ec, genKey(t, token.AlgEdDSA))
		bigger, err := keys.Load(grown, kidOf(t, ec))
		if err != nil {
			t.Fatal(err)
		}
		if _, etag4 := bigger.JWKS(); etag4 == etag {
			t.Errorf("a key was added and the etag stayed %s", etag)
		}
		shrunk, err := keys.Load(writeSet(t, ec), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, etag5 := shrunk.JWKS(); etag5 == etag {
			t.Errorf("a key was dropped and the etag stayed %s", etag)
		}
	})

	t.Run("copies", func(t *testing.T) {
		b, _ := set.JWKS()
		for i := range b {
			b[i] = 'x'
		}
		if again, _ := set.JWKS(); string(again) != string(body) {
			t.Error("modifying the returned body changed the Set")
		}
		ps := set.PublicSet()
		k, _ := ps.Key(0)
		if err := k.Set(jwk.KeyIDKey, "changed"); err != nil {
			t.Fatal(err)
		}
		if err := ps.RemoveKey(k); err != nil {
			t.Fatal(err)
		}
		fresh := set.PublicSet()
		if fresh.Len() != 2 {
			t.Errorf("PublicSet has %d keys after a copy was modified", fresh.Len())
		}
		for _, kid := range []string{kidOf(t, ed), kidOf(t, ec)} {
			if _, ok := fresh.LookupKeyID(kid); !ok {
				t.Errorf("PublicSet lost %s after a copy was modified", kid)
			}
		}
	})
}
