package keys_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"crypto/ed25519"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
)

func TestRingPublicKey(t *testing.T) {
	set, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	ring := keys.NewRing(set)
	kid := set.ActiveKID()

	got, ok := ring.PublicKey(kid)
	if !ok {
		t.Fatalf("PublicKey(active kid) not found")
	}
	if got.ID != kid {
		t.Errorf("kid = %q, want %q", got.ID, kid)
	}
	if got.Alg != token.AlgEdDSA {
		t.Errorf("alg = %v, want %s", got.Alg, token.AlgEdDSA)
	}
	if _, ok := got.Public.(ed25519.PublicKey); !ok {
		t.Errorf("key is a %T; want an Ed25519 public key", got.Public)
	}

	// The same key on every call, so that a verifier's cache recognises it.
	if again, _ := ring.PublicKey(kid); again != got {
		t.Error("PublicKey returned another key for the same kid: a verifier would derive it on every token")
	}
	// A copy: changing it must not change what the Set publishes.
	before, _ := set.JWKS()
	got.ID = "tampered"
	if after, _ := set.JWKS(); string(after) != string(before) {
		t.Errorf("tampering with PublicKey's key changed the published JWKS:\n%s\nwas\n%s", after, before)
	}
	if _, ok := set.PublicSet().LookupKeyID(kid); !ok {
		t.Error("tampering with PublicKey's key changed the Set's own keys")
	}

	if _, ok := ring.PublicKey("no-such-kid"); ok {
		t.Error("PublicKey(unknown kid) found a key")
	}

	// After a swap the ring answers for the new Set only.
	next, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	ring.Swap(next)
	if _, ok := ring.PublicKey(kid); ok {
		t.Error("PublicKey still finds a key of the swapped-out Set")
	}
	if _, ok := ring.PublicKey(next.ActiveKID()); !ok {
		t.Error("PublicKey does not find the new Set's key")
	}
}

// BenchmarkVerifyRing is the minting service verifying its own tokens in
// process: keys.Ring hands out a copy of the key per call.
func BenchmarkVerifyRing(b *testing.B) {
	set, err := keys.Ephemeral()
	if err != nil {
		b.Fatal(err)
	}
	ring := keys.NewRing(set)
	iss := verifytest.NewIssuer(b) // only for its claims
	payload := fmt.Appendf(nil, `{"iss":"i","aud":"a","sub":"user_alice","tid":"acme","sid":%[1]q,"jti":%[1]q,"iat":%[2]d,"nbf":%[2]d,"exp":%[3]d,"scope":"widget"}`,
		iss.Claims(token.Claims{}).SessionID, time.Now().Unix(), time.Now().Add(time.Hour).Unix())
	compact, err := ring.Sign(payload)
	if err != nil {
		b.Fatal(err)
	}
	tok := token.Wrap(token.EnvTest, compact)
	v, err := verify.New(verify.Config{Env: token.EnvTest, Issuer: "i", Audience: "a"}, verify.KeyFunc(ring.PublicKey), verify.NoRevocation)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
