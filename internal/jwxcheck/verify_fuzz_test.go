package jwxcheck_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

// The fixed world of FuzzAgreesWithJWX: one Ed25519 key, one clock.
const (
	fuzzIssuer   = "https://sessions.causeflow.test"
	fuzzAudience = "causeflow-widget"
	fuzzKID      = "fuzz-1"
	fuzzLeeway   = 30 * time.Second
)

var fuzzNow = time.Unix(1773501000, 0)

// fuzzSeeds are header and payload texts on both sides of the rules: what
// the minter writes, and variations in spacing, escapes, duplicates, types,
// times and structure.
var fuzzSeeds = [][2]string{
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt"}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"inc":"inc_1","scope":"widget"}`},
	{`{ "typ" : "wst+jwt" , "kid" : "fuzz-1" , "alg" : "EdDSA" }`, ` { "scope":"widget","exp":1773504566,"nbf":1773500966,"iat":1773500966,"jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","tid":"demo","sub":"user_alice","aud":"causeflow-widget","iss":"https:\/\/sessions.causeflow.test"} `},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt"}`, `{"iss":"https://sessions.causeflow.test","aud":["causeflow-widget"],"sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt","alg":"none"}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt","crit":["exp"]}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt"}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"exp":1,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt"}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1.773504566e9,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt"}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773501020,"nbf":1773501020,"exp":1773501000,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt","b64":false}`, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"u","tid":"t","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"scope":"widget"}`},
	{`{"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt","cty":"JWT"}`, `"eyJhbGciOiJub25lIn0.e30."`},
	{`{"alg":"EdDSA","kid":"fuzz-1"}`, `[]`},
	// Found by this fuzz test: jwx refuses a header with whitespace
	// outside its braces, which Verify used to accept.
	{` {"alg":"EdDSA","kid":"fuzz-1","typ":"wst+jwt"} `, `{"iss":"https://sessions.causeflow.test","aud":"causeflow-widget","sub":"user_alice","tid":"demo","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"scope":"widget"}`},
}

// FuzzAgreesWithJWX holds the hand-written fast path of Verify to jwx: any
// token Verify accepts, jws.Verify and jwt.Parse accept too with the same
// key, issuer, audience, clock and leeway, and read the same claims. The
// fuzzer writes the header and the payload; the test signs them with the
// real key, so the signature never stands between the input and the rules.
// `go test` runs the seeds; `make fuzz` explores further.
func FuzzAgreesWithJWX(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s[0], s[1])
	}
	priv, pub, v := fuzzWorld(f)
	f.Fuzz(func(t *testing.T, header, payload string) {
		compact := signCompact(priv, header, payload)
		ours, err := v.Verify(context.Background(), "wst_test_"+compact)
		if err != nil {
			return
		}
		if _, err := jws.Verify([]byte(compact), jws.WithKey(jwa.EdDSA(), pub)); err != nil {
			t.Fatalf("Verify accepted a token jws.Verify refuses (%v)\nheader  %s\npayload %s", err, header, payload)
		}
		theirs, err := jwt.Parse([]byte(compact), jwt.WithKey(jwa.EdDSA(), pub),
			jwt.WithIssuer(fuzzIssuer), jwt.WithAudience(fuzzAudience),
			jwt.WithAcceptableSkew(fuzzLeeway), jwt.WithClock(jwt.ClockFunc(func() time.Time { return fuzzNow })))
		if err != nil {
			t.Fatalf("Verify accepted a token jwt.Parse refuses (%v)\nheader  %s\npayload %s", err, header, payload)
		}
		if got, want := jwxClaims(theirs), ourClaims(ours); got != want {
			t.Fatalf("jwx reads %s, Verify read %s\nheader  %s\npayload %s", got, want, header, payload)
		}
	})
}

func ourClaims(c *token.Claims) string {
	return fmt.Sprintf("iss=%s aud=%s sub=%s jti=%s iat=%d nbf=%d exp=%d", c.Issuer, c.Audience, c.Subject, c.ID, c.IssuedAt, c.NotBefore, c.Expiry)
}

func jwxClaims(t jwt.Token) string {
	iss, _ := t.Issuer()
	aud, _ := t.Audience()
	sub, _ := t.Subject()
	jti, _ := t.JwtID()
	iat, _ := t.IssuedAt()
	nbf, _ := t.NotBefore()
	exp, _ := t.Expiration()
	a := ""
	if len(aud) == 1 {
		a = aud[0]
	} else {
		a = fmt.Sprint(aud)
	}
	return fmt.Sprintf("iss=%s aud=%s sub=%s jti=%s iat=%d nbf=%d exp=%d", iss, a, sub, jti, iat.Unix(), nbf.Unix(), exp.Unix())
}

// fuzzWorld returns the key, its public JWK and a Verifier trusting it.
func fuzzWorld(tb testing.TB) (ed25519.PrivateKey, jwk.Key, *verify.Verifier) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub, err := jwk.Import(priv.Public())
	if err != nil {
		tb.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, fuzzKID)
	_ = pub.Set(jwk.AlgorithmKey, jwa.EdDSA())
	ours := &jwks.Key{ID: fuzzKID, Alg: token.AlgEdDSA, Public: priv.Public()}
	v, err := verify.New(verify.Config{
		Env: token.EnvTest, Issuer: fuzzIssuer, Audience: fuzzAudience, Leeway: fuzzLeeway,
		Now: func() time.Time { return fuzzNow },
	}, verify.KeyFunc(func(kid string) (*jwks.Key, bool) { return ours, kid == fuzzKID }), verify.NoRevocation)
	if err != nil {
		tb.Fatal(err)
	}
	return priv, pub, v
}

// signCompact signs exactly header and payload.
func signCompact(priv ed25519.PrivateKey, header, payload string) string {
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// TestFuzzSeedsReachAcceptance keeps FuzzAgreesWithJWX from being vacuous:
// the first seeds (the minter's own shape, and the same claims reordered,
// spaced and escaped) are accepted, so the comparison with jwx runs.
func TestFuzzSeedsReachAcceptance(t *testing.T) {
	priv, _, v := fuzzWorld(t)
	for _, s := range fuzzSeeds[:2] {
		if _, err := v.Verify(context.Background(), "wst_test_"+signCompact(priv, s[0], s[1])); err != nil {
			t.Errorf("seed refused (%v): %s %s", err, s[0], s[1])
		}
	}
}
