package api_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// signRawCaller signs exactly header and payload with the identity
// provider's key: a token only the provider, or whoever holds its key,
// could make.
func (f *fixture) signRawCaller(t *testing.T, header, payload string) string {
	t.Helper()
	var priv ed25519.PrivateKey
	if err := jwk.Export(f.idpKey, &priv); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// TestLenientCallerJWTsRefused: through the real HTTP stack, a caller JWT
// signed by the identity provider's key but with a nested token, a payload
// that is not one JSON object, or a header member twice is 401; the same
// claims in the one accepted shape mint.
func TestLenientCallerJWTsRefused(t *testing.T) {
	f := newFixture(t)
	kid, ok := f.idpKey.KeyID()
	if !ok {
		t.Fatal("the dev IdP key has no kid")
	}
	b, err := json.Marshal(callerClaims())
	if err != nil {
		t.Fatal(err)
	}
	claims := string(b)
	header := `{"alg":"EdDSA","kid":"` + kid + `","typ":"JWT"}`
	inner := f.signRawCaller(t, header, claims)
	for _, c := range []struct {
		name, header, payload string
		status                int
	}{
		{"the accepted shape", header, claims, http.StatusCreated},
		{"nested JWT", `{"alg":"EdDSA","kid":"` + kid + `","cty":"JWT"}`, inner, http.StatusUnauthorized},
		{"payload a string holding a JWT", header, `"` + inner + `"`, http.StatusUnauthorized},
		{"payload an array", header, `[` + claims + `]`, http.StatusUnauthorized},
		{"duplicate alg", `{"alg":"EdDSA","alg":"EdDSA","kid":"` + kid + `"}`, claims, http.StatusUnauthorized},
		{"duplicate tid", header, claims[:len(claims)-1] + `,"tid":"acme"}`, http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := f.signRawCaller(t, c.header, c.payload)
			resp := f.do(t, f.mintRequest(t, "Bearer "+tok, `{"userId":"user_alice"}`))
			if resp.Status != c.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, c.status)
			}
		})
	}
}
