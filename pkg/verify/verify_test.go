package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
)

func TestVerifyValid(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []verifytest.Option
	}{
		{"EdDSA", nil},
		{"ES256", []verifytest.Option{verifytest.WithES256()}},
		{"live", []verifytest.Option{verifytest.WithEnv(token.EnvLive)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := newIssuer(t, tc.opts...)
			v := iss.Verifier(t, verify.NoRevocation)
			want := iss.Claims(token.Claims{Subject: "user_alice", Tenant: "acme", Incident: "inc_42"})
			tok := iss.Mint(want)
			got := wantOK(t, v, tok)
			if *got != want {
				t.Errorf("claims = %+v, want %+v", *got, want)
			}
			// The header cache must not change the verdict: again.
			if got := wantOK(t, v, tok); *got != want {
				t.Errorf("second Verify: claims = %+v, want %+v", *got, want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	iss := newIssuer(t)
	good := iss.Config()
	for _, tc := range []struct {
		name string
		cfg  func(*verify.Config)
		keys verify.KeySource
		rev  verify.RevocationChecker
	}{
		{"bad env", func(c *verify.Config) { c.Env = "prod" }, iss.Keys(), verify.NoRevocation},
		{"no issuer", func(c *verify.Config) { c.Issuer = "" }, iss.Keys(), verify.NoRevocation},
		{"no audience", func(c *verify.Config) { c.Audience = "" }, iss.Keys(), verify.NoRevocation},
		{"negative leeway", func(c *verify.Config) { c.Leeway = -time.Second }, iss.Keys(), verify.NoRevocation},
		{"negative lifetime", func(c *verify.Config) { c.MaxLifetime = -time.Second }, iss.Keys(), verify.NoRevocation},
		{"no keys", func(*verify.Config) {}, nil, verify.NoRevocation},
		{"no revocation checker", func(*verify.Config) {}, iss.Keys(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.cfg(&cfg)
			if v, err := verify.New(cfg, tc.keys, tc.rev); err == nil {
				t.Fatalf("New = %v, nil; want an error", v)
			}
		})
	}
}

// TestVerifyForm covers everything refused before a key is looked up:
// prefix, size, segments, header, base64 and payload syntax.
func TestVerifyForm(t *testing.T) {
	iss := newIssuer(t)
	v := iss.Verifier(t, verify.NoRevocation)
	good := iss.Mint(token.Claims{})
	h, p, s := split(t, good)
	payload := mustJSON(t, iss.Claims(token.Claims{}))
	hdr := func(edit func(map[string]any)) map[string]any {
		m := iss.Header()
		edit(m)
		return m
	}
	// HS256 "signed" with the public key's bytes: the classic key
	// confusion, where a verifier that lets the header pick the
	// algorithm uses the public key as an HMAC secret.
	pub := iss.PublicKey().Public.(ed25519.PublicKey)
	hsHeader := b64(mustJSON(t, hdr(func(m map[string]any) { m["alg"] = "HS256" })))
	hs256 := func(secret []byte) string {
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(hsHeader + "." + p))
		return token.Wrap(token.EnvTest, hsHeader+"."+p+"."+b64(mac.Sum(nil)))
	}
	noneHeader := b64(mustJSON(t, hdr(func(m map[string]any) { m["alg"] = "none" })))

	for _, tc := range []struct {
		name string
		tok  string
		want error
		why  string // a piece of the reason, so a case fails for its own
	}{
		{"empty", "", verify.ErrMalformed, "not a session token"},
		{"garbage", "hello world", verify.ErrMalformed, "not a session token"},
		{"bare JWS", h + "." + p + "." + s, verify.ErrMalformed, "not a session token"},
		{"other prefix", "wst_prod_" + h + "." + p + "." + s, verify.ErrMalformed, "not a session token"},
		{"live token in test", token.Wrap(token.EnvLive, h+"."+p+"."+s), verify.ErrWrongEnvironment, ""},
		{"two segments", token.Wrap(token.EnvTest, h+"."+p), verify.ErrMalformed, "segments"},
		{"four segments", good + "." + s, verify.ErrMalformed, "segments"},
		{"empty signature", token.Wrap(token.EnvTest, h+"."+p+"."), verify.ErrMalformed, "segments"},
		{"empty header", token.Wrap(token.EnvTest, "."+p+"."+s), verify.ErrMalformed, "segments"},
		{"oversize", good + strings.Repeat("A", verify.MaxTokenSize), verify.ErrMalformed, "size bound"},
		{"header not base64", token.Wrap(token.EnvTest, "eyJ!"+h[4:]+"."+p+"."+s), verify.ErrMalformed, "header is not base64"},
		{"payload not base64", token.Wrap(token.EnvTest, h+"."+p[:10]+"*"+p[11:]+"."+s), verify.ErrMalformed, "payload is not base64"},
		{"payload padded", token.Wrap(token.EnvTest, h+"."+b64(payload[:len(payload)-1])+"=."+s), verify.ErrMalformed, "payload is not base64"},
		{"signature std base64", token.Wrap(token.EnvTest, h+"."+p+"."+strings.ReplaceAll(strings.ReplaceAll(s, "-", "+"), "_", "/")+"+"), verify.ErrMalformed, "signature is not"},
		{"signature too short", token.Wrap(token.EnvTest, h+"."+p+"."+s[:40]), verify.ErrMalformed, "signature is not"},
		{"signature with newline", token.Wrap(token.EnvTest, h+"."+p+"."+s[:40]+"\n"+s[41:]), verify.ErrMalformed, "signature is not"},
		{"header not JSON", iss.MintRawBytes([]byte("not json"), payload), verify.ErrMalformed, "header is not a JSON"},
		{"header array", iss.MintRawBytes([]byte(`["alg"]`), payload), verify.ErrMalformed, "header is not a JSON"},
		{"header trailing data", iss.MintRawBytes(append(mustJSON(t, iss.Header()), "{}"...), payload), verify.ErrMalformed, "header is not a JSON"},
		{"duplicate alg", iss.MintRawBytes([]byte(`{"alg":"EdDSA","alg":"EdDSA","kid":"`+iss.KID()+`","typ":"wst+jwt"}`), payload), verify.ErrMalformed, "duplicate"},
		{"typ missing", iss.MintRaw(hdr(func(m map[string]any) { delete(m, "typ") }), payload), verify.ErrMalformed, "typ"},
		{"typ JWT", iss.MintRaw(hdr(func(m map[string]any) { m["typ"] = "JWT" }), payload), verify.ErrMalformed, "typ"},
		{"typ other case", iss.MintRaw(hdr(func(m map[string]any) { m["typ"] = "WST+JWT" }), payload), verify.ErrMalformed, "typ"},
		{"typ number", iss.MintRaw(hdr(func(m map[string]any) { m["typ"] = 1 }), payload), verify.ErrMalformed, "wrong type"},
		{"kid missing", iss.MintRaw(hdr(func(m map[string]any) { delete(m, "kid") }), payload), verify.ErrMalformed, "kid"},
		{"kid empty", iss.MintRaw(hdr(func(m map[string]any) { m["kid"] = "" }), payload), verify.ErrMalformed, "kid"},
		{"kid too long", iss.MintRaw(hdr(func(m map[string]any) { m["kid"] = strings.Repeat("k", 300) }), payload), verify.ErrMalformed, "kid"},
		{"alg missing", iss.MintRaw(hdr(func(m map[string]any) { delete(m, "alg") }), payload), verify.ErrMalformed, "alg is not"},
		{"alg none, empty signature", token.Wrap(token.EnvTest, noneHeader+"."+p+"."), verify.ErrMalformed, "segments"},
		{"alg none, some signature", token.Wrap(token.EnvTest, noneHeader+"."+p+"."+s), verify.ErrMalformed, "alg is not"},
		{"alg HS256 keyed with the public key", hs256(pub), verify.ErrMalformed, "alg is not"},
		{"alg HS256 keyed with the public JWK", hs256(mustJSON(t, iss.PublicKey())), verify.ErrMalformed, "alg is not"},
		{"alg RS256", iss.MintRaw(hdr(func(m map[string]any) { m["alg"] = "RS256" }), payload), verify.ErrMalformed, "alg is not"},
		{"alg eddsa lower case", iss.MintRaw(hdr(func(m map[string]any) { m["alg"] = "eddsa" }), payload), verify.ErrMalformed, "alg is not"},
		{"jku header", iss.MintRaw(hdr(func(m map[string]any) { m["jku"] = "https://evil.example/jwks" }), payload), verify.ErrMalformed, "forbidden"},
		{"jwk header", iss.MintRaw(hdr(func(m map[string]any) { m["jwk"] = iss.PublicKey() }), payload), verify.ErrMalformed, "forbidden"},
		{"x5u header", iss.MintRaw(hdr(func(m map[string]any) { m["x5u"] = "https://evil.example/cert" }), payload), verify.ErrMalformed, "forbidden"},
		{"x5c header", iss.MintRaw(hdr(func(m map[string]any) { m["x5c"] = []string{"MIIB"} }), payload), verify.ErrMalformed, "forbidden"},
		{"crit header", iss.MintRaw(hdr(func(m map[string]any) { m["crit"] = []string{"exp"} }), payload), verify.ErrMalformed, "forbidden"},
		{"b64 header", iss.MintRaw(hdr(func(m map[string]any) { m["b64"] = false }), payload), verify.ErrMalformed, "forbidden"},
		{"payload not JSON", iss.MintRaw(iss.Header(), []byte("not json")), verify.ErrMalformed, "payload is not a JSON"},
		{"payload array", iss.MintRaw(iss.Header(), []byte(`[1,2]`)), verify.ErrMalformed, "payload is not a JSON"},
		{"payload null", iss.MintRaw(iss.Header(), []byte(`null`)), verify.ErrMalformed, "payload is not a JSON"},
		{"payload trailing data", iss.MintRaw(iss.Header(), append(payload, '1')), verify.ErrMalformed, "payload is not a JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := wantErr(t, v, tc.tok, tc.want); !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %q does not say %q", err, tc.why)
			}
		})
	}
	// The good token still verifies: the cases above poisoned nothing.
	wantOK(t, v, good)
}

// TestVerifyKeyAndSignature covers the checks that need the key.
func TestVerifyKeyAndSignature(t *testing.T) {
	iss := newIssuer(t)
	es := newIssuer(t, verifytest.WithES256())
	v := iss.Verifier(t, verify.NoRevocation)
	good := iss.Mint(token.Claims{})
	h, p, s := split(t, good)

	other := iss.Claims(token.Claims{Subject: "user_mallory"})
	tamperedPayload := token.Wrap(token.EnvTest, h+"."+b64(mustJSON(t, other))+"."+s)
	sig := []byte(s)
	// Another base64url letter in the middle (a XOR trick would turn '-'
	// into '.', making the token malformed rather than badly signed).
	if sig[10] == 'A' {
		sig[10] = 'B'
	} else {
		sig[10] = 'A'
	}
	if sig[10] == s[10] {
		t.Fatal("tampering changed nothing")
	}
	tamperedSig := token.Wrap(token.EnvTest, h+"."+p+"."+string(sig))

	esHeaderOnEd := iss.Header()
	esHeaderOnEd["alg"] = token.AlgES256
	edHeaderOnES := es.Header()
	edHeaderOnES["alg"] = token.AlgEdDSA
	unknown := iss.Header()
	unknown["kid"] = "no-such-kid"
	payload := mustJSON(t, iss.Claims(token.Claims{}))

	for _, tc := range []struct {
		name string
		v    *verify.Verifier
		tok  string
		want error
	}{
		{"tampered payload", v, tamperedPayload, verify.ErrBadSignature},
		{"tampered signature", v, tamperedSig, verify.ErrBadSignature},
		{"ES256 header on an Ed25519 key", v, iss.MintRaw(esHeaderOnEd, payload), verify.ErrBadSignature},
		{"EdDSA header on a P-256 key", es.Verifier(t, nil), es.MintRaw(edHeaderOnES, payload), verify.ErrBadSignature},
		{"unknown kid", v, iss.MintRaw(unknown, payload), verify.ErrUnknownKey},
		{"signed by another issuer's key", v, newIssuer(t).MintRaw(iss.Header(), payload), verify.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.v, tc.tok, tc.want) })
	}
	wantOK(t, v, good)
}

// fakeKeys is a KeySource made of a function, for failure cases.
type fakeKeys func(ctx context.Context, kid string) (*jwks.Key, error)

func (f fakeKeys) Key(ctx context.Context, kid string) (*jwks.Key, error) { return f(ctx, kid) }

func TestVerifyKeySourceErrors(t *testing.T) {
	iss := newIssuer(t)
	tok := iss.Mint(token.Claims{})
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		src  fakeKeys
		want error
	}{
		{"unavailable", func(context.Context, string) (*jwks.Key, error) { return nil, boom }, verify.ErrKeysUnavailable},
		{"context ended", func(ctx context.Context, _ string) (*jwks.Key, error) { return nil, context.Canceled }, verify.ErrKeysUnavailable},
		{"nil key", func(context.Context, string) (*jwks.Key, error) { return nil, nil }, verify.ErrUnknownKey},
		{"unknown", func(context.Context, string) (*jwks.Key, error) { return nil, verify.ErrUnknownKey }, verify.ErrUnknownKey},
		{"alg contradicts key", func(context.Context, string) (*jwks.Key, error) {
			k := *iss.PublicKey()
			k.Alg = "ES256"
			return &k, nil
		}, verify.ErrBadSignature},
		{"P-384 key", func(context.Context, string) (*jwks.Key, error) {
			ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			return &jwks.Key{ID: iss.KID(), Public: &ec.PublicKey}, nil
		}, verify.ErrBadSignature},
		{"symmetric key", func(context.Context, string) (*jwks.Key, error) {
			return &jwks.Key{ID: iss.KID(), Public: []byte("0123456789abcdef0123456789abcdef")}, nil
		}, verify.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := verify.New(iss.Config(), tc.src, verify.NoRevocation)
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, v, tok, tc.want)
		})
	}
}

func TestNewStaticKeys(t *testing.T) {
	iss := newIssuer(t)
	set, err := jwks.Parse(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := verify.NewStaticKeys(set...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(iss.Config(), keys, verify.NoRevocation)
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, v, iss.Mint(token.Claims{}))

	noKID := *iss.PublicKey()
	noKID.ID = ""
	wrongAlg := *iss.PublicKey()
	wrongAlg.Alg = "ES256"
	for name, keys := range map[string][]*jwks.Key{
		"empty":         nil,
		"nil":           {nil},
		"no kid":        {&noKID},
		"duplicate kid": {iss.PublicKey(), iss.PublicKey()},
		"alg mismatch":  {&wrongAlg},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := verify.NewStaticKeys(keys...); err == nil {
				t.Fatal("NewStaticKeys accepted a bad set")
			}
		})
	}
}
