package jwks_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/jwks"
)

// TestParseKinds: every kind of signing key a provider publishes decodes
// to the standard library's key, and MarshalJSON writes what Parse reads.
func TestParseKinds(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	var keys []*jwks.Key
	keys = append(keys, &jwks.Key{ID: "ed", Alg: "EdDSA", Public: ed.Public()})
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		ec, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, &jwks.Key{ID: c.Params().Name, Public: &ec.PublicKey})
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys, &jwks.Key{ID: "rsa", Alg: "RS256", Public: &rk.PublicKey})

	body, err := json.Marshal(map[string][]*jwks.Key{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	got, err := jwks.Parse(body)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, body)
	}
	if len(got) != len(keys) {
		t.Fatalf("Parse returned %d keys, want %d", len(got), len(keys))
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for i, k := range got {
		want := keys[i]
		if k.ID != want.ID || k.Alg != want.Alg || !k.Public.(equaler).Equal(want.Public) {
			t.Errorf("key %d = %+v, want %+v", i, k, want)
		}
	}
}

// TestParseSkipsAndRefuses: what a verifier must not use is skipped, one
// entry at a time, and a set with nothing usable is refused.
func TestParseSkipsAndRefuses(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := json.Marshal(&jwks.Key{ID: "good", Public: ed.Public()})
	goodX := jsonMember(t, good, "x")
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecJSON, _ := json.Marshal(&jwks.Key{ID: "ec", Public: &p256.PublicKey})
	ecX, ecY := jsonMember(t, ecJSON, "x"), jsonMember(t, ecJSON, "y")

	skipped := map[string]string{
		"no kid":             `{"kty":"OKP","crv":"Ed25519","x":"` + goodX + `"}`,
		"empty kid":          `{"kty":"OKP","crv":"Ed25519","kid":"","x":"` + goodX + `"}`,
		"kid not a string":   `{"kty":"OKP","crv":"Ed25519","kid":7,"x":"` + goodX + `"}`,
		"member names cased": `{"KTY":"OKP","crv":"Ed25519","kid":"a","x":"` + goodX + `"}`,
		// Ambiguous to a reader matching names case-insensitively.
		"private member cased": `{"kty":"OKP","crv":"Ed25519","kid":"a","D":"` + goodX + `","x":"` + goodX + `"}`,
		"a name twice by case": `{"kty":"OKP","Kty":"EC","crv":"Ed25519","kid":"a","x":"` + goodX + `"}`,
		"encryption key":       `{"kty":"OKP","crv":"Ed25519","kid":"a","use":"enc","x":"` + goodX + `"}`,
		"X25519":               `{"kty":"OKP","crv":"X25519","kid":"a","x":"` + goodX + `"}`,
		"short x":              `{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + goodX[:40] + `"}`,
		"padded x":             `{"kty":"OKP","crv":"Ed25519","kid":"a","x":"` + goodX + `="}`,
		"point off curve":      `{"kty":"EC","crv":"P-256","kid":"a","x":"` + ecX + `","y":"` + ecX + `"}`, // y = x: not on the curve,
		"unknown curve":        `{"kty":"EC","crv":"P-192","kid":"a","x":"` + ecX + `","y":"` + ecY + `"}`,
		"even exponent":        `{"kty":"RSA","kid":"a","n":"` + strings.Repeat("A", 342) + `","e":"AQAA"}`,
		"unknown kty":          `{"kty":"PQC","kid":"a"}`,
		"not an object":        `"hello"`,
	}
	for name, entry := range skipped {
		t.Run(name, func(t *testing.T) {
			set := `{"keys":[` + entry + `,` + string(good) + `]}`
			keys, err := jwks.Parse([]byte(set))
			if err != nil || len(keys) != 1 || keys[0].ID != "good" {
				t.Fatalf("Parse = %v, %v; want the good key alone", keys, err)
			}
			if _, err := jwks.Parse([]byte(`{"keys":[` + entry + `]}`)); err == nil {
				t.Fatal("a set with nothing usable was accepted")
			}
		})
	}

	t.Run("first of a repeated kid wins", func(t *testing.T) {
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		again, _ := json.Marshal(&jwks.Key{ID: "good", Public: other.Public()})
		keys, err := jwks.Parse([]byte(`{"keys":[` + string(good) + `,` + string(again) + `]}`))
		if err != nil || len(keys) != 1 || !keys[0].Public.(ed25519.PublicKey).Equal(ed.Public()) {
			t.Fatalf("Parse = %v, %v", keys, err)
		}
	})
	// The first entry naming a kid decides it: when that entry is not a
	// usable key, a later entry with the same kid is not taken instead (a
	// more lenient reader, jwx among them, would find the first). The
	// fuzz target FuzzJWKSAgreesWithJWX found the first case.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	later, _ := json.Marshal(&jwks.Key{ID: "a", Public: other.Public()})
	for name, first := range map[string]string{
		"a member repeated":      `{"":"","kty":"OKP","crv":"Ed25519","kid":"a","":"","x":"` + goodX + `"}`,
		"member names cased":     `{"ktY":"OKP","crv":"Ed25519","kid":"a","x":"` + goodX + `"}`,
		"kid cased":              `{"kty":"OKP","crv":"Ed25519","KID":"a","x":"` + goodX + `"}`,
		"kid with a Kelvin sign": `{"kty":"OKP","crv":"Ed25519","` + "\u212aid" + `":"a","x":"` + goodX + `"}`,
		"encryption key":         `{"kty":"OKP","crv":"Ed25519","kid":"a","use":"enc","x":"` + goodX + `"}`,
	} {
		t.Run("an unusable first entry decides its kid: "+name, func(t *testing.T) {
			keys, err := jwks.Parse([]byte(`{"keys":[` + first + `,` + string(later) + `,` + string(good) + `]}`))
			if err != nil || len(keys) != 1 || keys[0].ID != "good" {
				t.Fatalf("Parse = %v, %v; want the good key alone, not the later %q", keys, err, "a")
			}
		})
	}
	t.Run("an entry naming two kids is not used", func(t *testing.T) {
		two := `{"kty":"OKP","crv":"Ed25519","kid":"a","Kid":"b","x":"` + goodX + `"}`
		keys, err := jwks.Parse([]byte(`{"keys":[` + two + `,` + string(good) + `]}`))
		if err != nil || len(keys) != 1 || keys[0].ID != "good" {
			t.Fatalf("Parse = %v, %v; want the good key alone", keys, err)
		}
	})
	for _, doc := range []string{``, `[]`, `{}`, `{"keys":null}`, `{"keys":{}}`, `<html>`, string(good)} {
		if _, err := jwks.Parse([]byte(doc)); err == nil {
			t.Errorf("Parse(%q) accepted", doc)
		}
	}
}

func jsonMember(t *testing.T, obj []byte, name string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}
