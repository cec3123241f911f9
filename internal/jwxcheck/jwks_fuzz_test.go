package jwxcheck_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/pkg/jwks"
)

// jwksSeeds are sets on both sides of the rules: every kind of key, and
// the same keys bent (private members, other uses, cased names, padded or
// short coordinates, repeated kids, a single key).
func jwksSeeds(tb testing.TB) []string {
	r := rand.NewChaCha8([32]byte{1})
	ed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	var keys []*jwks.Key
	keys = append(keys, &jwks.Key{ID: "ed", Alg: "EdDSA", Public: ed.Public()})
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, r)
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, &jwks.Key{ID: c.Params().Name, Public: &k.PublicKey})
	}
	rk, err := rsa.GenerateKey(r, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	keys = append(keys, &jwks.Key{ID: "rsa", Alg: "RS256", Public: &rk.PublicKey})
	var seeds []string
	all, _ := json.Marshal(map[string][]*jwks.Key{"keys": keys})
	seeds = append(seeds, string(all))
	for _, k := range keys {
		one, _ := json.Marshal(k)
		seeds = append(seeds, string(one), `{"keys":[`+string(one)+`,`+string(one)+`]}`)
		var m map[string]any
		_ = json.Unmarshal(one, &m)
		for _, bend := range []func(map[string]any){
			func(m map[string]any) { m["d"] = m["x"] },
			func(m map[string]any) { m["use"] = "enc" },
			func(m map[string]any) { m["KID"] = m["kid"]; delete(m, "kid") },
			func(m map[string]any) { m["D"] = m["x"] },
			func(m map[string]any) { m["Kid"] = "other" },
			func(m map[string]any) { m["kid"] = 7 },
			func(m map[string]any) { m["alg"] = "ES256" },
			func(m map[string]any) {
				if x, ok := m["x"].(string); ok {
					m["x"] = x + "="
				}
			},
			func(m map[string]any) {
				if x, ok := m["x"].(string); ok {
					m["x"] = x[:len(x)-2]
				}
			},
		} {
			c := map[string]any{}
			for k, v := range m {
				c[k] = v
			}
			bend(c)
			b, _ := json.Marshal(map[string]any{"keys": []any{c}})
			seeds = append(seeds, string(b))
		}
	}
	return seeds
}

// FuzzJWKSAgreesWithJWX holds jwks.Parse, which decodes keys by hand, to
// jwx: every key Parse returns, jwx reads from the same document under
// the same kid, with the same key material and alg. Parse may refuse more
// (padded base64, a kid of the wrong type), never accept more.
func FuzzJWKSAgreesWithJWX(f *testing.F) {
	for _, s := range jwksSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ours, err := jwks.Parse([]byte(body))
		if err != nil {
			return
		}
		set, err := jwk.Parse([]byte(body), jwk.WithStrictKeySetParsing(false), jwk.WithIgnoreParseError(true))
		if err != nil {
			t.Fatalf("Parse accepted a document jwx refuses (%v): %s", err, body)
		}
		for _, k := range ours {
			theirs, ok := set.LookupKeyID(k.ID)
			if !ok {
				t.Fatalf("Parse read key %q, which jwx does not find: %s", k.ID, body)
			}
			pub, err := theirs.PublicKey()
			if err != nil {
				t.Fatalf("key %q: jwx has no public form (%v): %s", k.ID, err, body)
			}
			var raw crypto.PublicKey
			if _, isRSA := pub.(jwk.RSAPublicKey); isRSA {
				var r rsa.PublicKey
				err = jwk.Export(pub, &r)
				raw = &r
			} else {
				err = jwk.Export(pub, &raw)
			}
			if err != nil {
				t.Fatalf("key %q: jwx cannot export it (%v): %s", k.ID, err, body)
			}
			if eq, ok := raw.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(k.Public) {
				t.Fatalf("key %q: jwx reads %T %v, Parse read %T %v: %s", k.ID, raw, raw, k.Public, k.Public, body)
			}
			alg, _ := theirs.Algorithm()
			if got := ""; alg != nil {
				got = alg.String()
				if got != k.Alg {
					t.Fatalf("key %q: jwx reads alg %q, Parse %q: %s", k.ID, got, k.Alg, body)
				}
			} else if k.Alg != "" {
				t.Fatalf("key %q: jwx reads no alg, Parse %q: %s", k.ID, k.Alg, body)
			}
		}
	})
}

// TestJWKSSeedsReachAcceptance keeps FuzzJWKSAgreesWithJWX from being
// vacuous: the first seed, a set of every kind of key, is read whole.
func TestJWKSSeedsReachAcceptance(t *testing.T) {
	seeds := jwksSeeds(t)
	keys, err := jwks.Parse([]byte(seeds[0]))
	if err != nil || len(keys) != 5 {
		t.Fatalf("Parse(seed 0) = %d keys, %v; want 5", len(keys), err)
	}
}
