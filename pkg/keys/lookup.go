package keys

import "github.com/lestrrat-go/jwx/v3/jwk"

// PublicKey returns a copy of the public key with kid in the current Set,
// and whether there is one. It lets the service verify its own tokens in
// process (verify.KeyFunc(ring.PublicKey)) and follow reloads without
// fetching its own JWKS over HTTP.
//
// It returns a copy, like PublicSet, so that no caller can alter the keys
// the Set publishes; a copy costs a few hundred nanoseconds, which only the
// in-process introspection path pays, not an edge verifying from a JWKS.
func (r *Ring) PublicKey(kid string) (jwk.Key, bool) {
	key, ok := r.Current().public.LookupKeyID(kid)
	if !ok {
		return nil, false
	}
	c, err := key.Clone()
	if err != nil {
		// As in PublicSet: cloning a public key the Set built itself
		// cannot fail short of a bug in jwx, and a key that is not a
		// faithful copy must not be handed to a verifier.
		return nil, false
	}
	return c, true
}
