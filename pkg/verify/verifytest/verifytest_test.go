package verifytest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
)

func TestIssuerMintVerifies(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []verifytest.Option
		alg  string
		env  string
	}{
		{"defaults", nil, token.AlgEdDSA, token.EnvTest},
		{"ES256 live", []verifytest.Option{verifytest.WithES256(), verifytest.WithEnv(token.EnvLive)}, token.AlgES256, token.EnvLive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := verifytest.NewIssuer(t, tc.opts...)
			if iss.Alg() != tc.alg {
				t.Errorf("Alg = %q, want %q", iss.Alg(), tc.alg)
			}
			tok := iss.Mint(token.Claims{})
			if !strings.HasPrefix(tok, token.Prefix(tc.env)) {
				t.Errorf("token does not start with %q", token.Prefix(tc.env))
			}
			c, err := iss.Verifier(t, nil).Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != verifytest.DefaultIssuer || c.Audience != verifytest.DefaultAudience ||
				c.Subject != verifytest.DefaultSubject || c.Tenant != verifytest.DefaultTenant ||
				c.Scope != token.Scope || !sessionid.Valid(c.SessionID) || c.ID != c.SessionID ||
				c.NotBefore != c.IssuedAt || c.Expiry != c.IssuedAt+int64(verifytest.DefaultTTL/time.Second) {
				t.Errorf("claims = %+v", *c)
			}
		})
	}
}

func TestIssuerClaimsDefaults(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	iss := verifytest.NewIssuer(t, verifytest.WithNow(func() time.Time { return now }),
		verifytest.WithIssuer("https://iss.example"), verifytest.WithAudience("aud"))
	c := iss.Claims(token.Claims{Subject: "u", IssuedAt: now.Unix() + 100})
	if c.Issuer != "https://iss.example" || c.Audience != "aud" || c.Subject != "u" {
		t.Errorf("claims = %+v", c)
	}
	if c.NotBefore != now.Unix()+100 || c.Expiry != now.Unix()+100+3600 {
		t.Errorf("times do not follow iat: %+v", c)
	}
	if c := iss.Claims(token.Claims{ID: "wsess_x"}); c.SessionID != "wsess_x" {
		t.Errorf("sid does not follow jti: %+v", c)
	}
	if a, b := iss.Claims(token.Claims{}), iss.Claims(token.Claims{}); a.SessionID == b.SessionID {
		t.Error("two default session ids are equal")
	}
}

func TestIssuerServerAndRotate(t *testing.T) {
	iss := verifytest.NewIssuer(t)
	url := iss.Server(t)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if bytes.Contains(body, []byte(`"d"`)) {
		t.Fatalf("the JWKS publishes a private key: %s", body)
	}
	set, err := jwks.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 1 {
		t.Fatalf("JWKS holds %d keys, want 1", len(set))
	}
	if kid := set[0].ID; kid != iss.KID() {
		t.Errorf("kid = %q, want %q", kid, iss.KID())
	}

	cache, err := jwks.New(url, jwks.Options{AllowInsecureHTTP: true, MinRefreshInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(iss.Config(), cache, verify.NoRevocation)
	if err != nil {
		t.Fatal(err)
	}
	old := iss.Mint(token.Claims{})
	oldKID := iss.KID()
	kid, err := iss.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if kid == oldKID || iss.KID() != kid {
		t.Fatalf("Rotate: kid %q, KID %q, old %q", kid, iss.KID(), oldKID)
	}
	for _, tok := range []string{old, iss.Mint(token.Claims{})} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIssuerMintRaw(t *testing.T) {
	iss := verifytest.NewIssuer(t)
	v := iss.Verifier(t, verify.RevocationFunc(func(*token.Claims) (bool, error) { return true, nil }))
	h := iss.Header()
	h["typ"] = "JWT"
	if _, err := v.Verify(context.Background(), iss.MintRaw(h, []byte("{}"))); !errors.Is(err, verify.ErrMalformed) {
		t.Errorf("MintRaw with typ JWT: %v", err)
	}
	// The revoking checker shows the Verifier uses the checker given.
	if _, err := v.Verify(context.Background(), iss.Mint(token.Claims{})); !errors.Is(err, verify.ErrRevoked) {
		t.Errorf("Verifier ignored its checker: %v", err)
	}
	k, err := iss.Keys().Key(context.Background(), iss.KID())
	if err != nil || k == nil {
		t.Fatalf("Keys().Key(KID) = %v, %v", k, err)
	}
	if _, err := iss.Keys().Key(context.Background(), "nope"); !errors.Is(err, verify.ErrUnknownKey) {
		t.Errorf("Keys().Key(unknown) = %v", err)
	}
}
