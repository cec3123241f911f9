package keys_test

import (
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
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
	if k, _ := got.KeyID(); k != kid {
		t.Errorf("kid = %q, want %q", k, kid)
	}
	if alg, _ := got.Algorithm(); alg.String() != token.AlgEdDSA {
		t.Errorf("alg = %v, want %s", alg, token.AlgEdDSA)
	}
	if private, err := jwk.IsPrivateKey(got); err != nil || private {
		t.Errorf("IsPrivateKey = %v, %v; want a public key", private, err)
	}

	// The same key on every call, so that a verifier's cache recognises it.
	if again, _ := ring.PublicKey(kid); again != got {
		t.Error("PublicKey returned another key for the same kid: a verifier would derive it on every token")
	}
	// A copy: changing it must not change what the Set publishes.
	before, _ := set.JWKS()
	if err := got.Set(jwk.KeyIDKey, "tampered"); err != nil {
		t.Fatal(err)
	}
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
