package keys_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// loadOne returns a Set of one fresh key for alg.
func loadOne(t testing.TB, alg string) *keys.Set {
	t.Helper()
	set, err := keys.Load(writeSet(t, genKey(t, alg)), "")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestSignVerifiesWithJWX(t *testing.T) {
	ephemeral, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*keys.Set{
		token.AlgEdDSA:                     loadOne(t, token.AlgEdDSA),
		token.AlgES256:                     loadOne(t, token.AlgES256),
		"Ephemeral":                        ephemeral,
		"ES256 among verification":         loadActiveAmongOthers(t),
		"kid with JSON-special characters": loadWithKID(t, `ops <2026> & "co"`),
	}
	for name, set := range sets {
		t.Run(name, func(t *testing.T) {
			payload := claims(t)
			compact, err := set.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			assertVerifies(t, set, compact, payload)

			// Verified with the JWKS as served, the way an edge does it.
			body, _ := set.JWKS()
			served, err := jwk.Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse([]byte(compact), jwt.WithKeySet(served)); err != nil {
				t.Errorf("does not verify with the served JWKS: %v", err)
			}

			// The check has teeth: a changed payload or a key from
			// another set is refused.
			parts := strings.Split(compact, ".")
			other := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "user-1", "user-2", 1)))
			if _, err := jwt.Parse([]byte(parts[0]+"."+other+"."+parts[2]), jwt.WithKeySet(set.PublicSet())); err == nil {
				t.Error("a token with a changed payload verified")
			}
			if _, err := jwt.Parse([]byte(compact), jwt.WithKeySet(loadOne(t, set.ActiveAlg()).PublicSet())); err == nil {
				t.Error("a token verified with another set's keys")
			}
		})
	}

	t.Run("signatures of the same payload differ only where the algorithm says", func(t *testing.T) {
		set := loadOne(t, token.AlgEdDSA)
		a, _ := set.Sign(claims(t))
		b, _ := set.Sign(claims(t))
		if a != b { // Ed25519 is deterministic
			t.Errorf("EdDSA signed the same payload twice differently")
		}
	})

	t.Run("a prefixed token is the prefix and the same JWS, the prefix unsigned", func(t *testing.T) {
		set := loadOne(t, token.AlgEdDSA)
		prefix := token.Prefix(token.EnvLive)
		plain, _ := set.Sign(claims(t))
		prefixed, err := set.SignPrefixed(prefix, claims(t))
		if err != nil || prefixed != prefix+plain {
			t.Fatalf("SignPrefixed = %q, %v; want %q", prefixed, err, prefix+plain)
		}
		if _, err := jwt.Parse([]byte(strings.TrimPrefix(prefixed, prefix)), jwt.WithKeySet(set.PublicSet())); err != nil {
			t.Errorf("the JWS after the prefix does not verify: %v", err)
		}
		es := loadOne(t, token.AlgES256)
		tok, err := es.SignPrefixed(prefix, claims(t))
		if err != nil || !strings.HasPrefix(tok, prefix) {
			t.Fatalf("ES256 SignPrefixed = %q, %v", tok, err)
		}
		if _, err := jwt.Parse([]byte(strings.TrimPrefix(tok, prefix)), jwt.WithKeySet(es.PublicSet())); err != nil {
			t.Errorf("ES256: the JWS after the prefix does not verify: %v", err)
		}
	})
}

// loadActiveAmongOthers returns a Set whose active ES256 key sits between
// two verification-only keys.
func loadActiveAmongOthers(t *testing.T) *keys.Set {
	t.Helper()
	active := genKey(t, token.AlgES256)
	set, err := keys.Load(writeSet(t, genKey(t, token.AlgEdDSA), active, genKey(t, token.AlgES256)), kidOf(t, active))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// loadWithKID returns a Set of one EdDSA key whose kid is kid.
func loadWithKID(t *testing.T, kid string) *keys.Set {
	t.Helper()
	k := keyJSON(t, genKey(t, token.AlgEdDSA))
	k["kid"] = kid
	set, err := keys.Load(writeSet(t, k), "")
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// assertVerifies checks compact independently of this package: with jwx,
// against the Set's public keys, and byte for byte where the format allows.
func assertVerifies(t *testing.T, set *keys.Set, compact string, payload []byte) {
	t.Helper()
	tok, err := jwt.Parse([]byte(compact), jwt.WithKeySet(set.PublicSet()))
	if err != nil {
		t.Fatalf("jwt.Parse: %v\n%s", err, compact)
	}
	if sub, _ := tok.Subject(); sub != "user-1" {
		t.Errorf("sub = %q", sub)
	}

	msg, err := jws.Parse([]byte(compact))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(msg.Signatures()); n != 1 {
		t.Fatalf("%d signatures", n)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	if typ, _ := h.Type(); typ != token.Type {
		t.Errorf("typ = %q, want %q", typ, token.Type)
	}
	if kid, _ := h.KeyID(); kid != set.ActiveKID() {
		t.Errorf("kid = %q, want %q", kid, set.ActiveKID())
	}
	if alg, _ := h.Algorithm(); alg.String() != set.ActiveAlg() {
		t.Errorf("alg = %q, want %q", alg, set.ActiveAlg())
	}
	if string(msg.Payload()) != string(payload) {
		t.Errorf("payload = %s", msg.Payload())
	}

	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	// For the printable ASCII kids here, Go quoting is JSON quoting
	// without HTML escaping: the header a person would write.
	kid := strconv.Quote(set.ActiveKID())
	if want := `{"alg":"` + set.ActiveAlg() + `","kid":` + kid + `,"typ":"wst+jwt"}`; string(rawHeader) != want {
		t.Errorf("header = %s, want %s", rawHeader, want)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != 64 { // Ed25519, and ES256 as JOSE r||s rather than DER
		t.Errorf("signature is %d bytes, want 64", len(sig))
	}
}

func TestSignZeroSet(t *testing.T) {
	var set keys.Set // not built by Load or Ephemeral
	if _, err := set.Sign(claims(t)); err == nil {
		t.Error("the zero Set signed")
	}
}

func TestSignEmptyPayload(t *testing.T) {
	// Not a JWT, but still a well-formed JWS: Sign is not a claims parser.
	set := loadOne(t, token.AlgES256)
	compact, err := set.Sign(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify([]byte(compact), jws.WithKeySet(set.PublicSet())); err != nil {
		t.Errorf("jws.Verify: %v", err)
	}
}

// BenchmarkSign measures minting's signing step; read it against
// BenchmarkBareEd25519Sign, the floor that crypto/ed25519 sets.
func BenchmarkSign(b *testing.B) {
	payload := claims(b)
	for _, alg := range []string{token.AlgEdDSA, token.AlgES256} {
		set := loadOne(b, alg)
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := set.Sign(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareEd25519Sign signs the same signing input as BenchmarkSign
// with crypto/ed25519 alone: no encoding, no header, no JWS.
func BenchmarkBareEd25519Sign(b *testing.B) {
	compact, err := loadOne(b, token.AlgEdDSA).Sign(claims(b))
	if err != nil {
		b.Fatal(err)
	}
	input := []byte(compact[:strings.LastIndexByte(compact, '.')])
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(priv, input)
	}
}
