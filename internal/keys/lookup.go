package keys

import "github.com/causeflow/widget-sessions/pkg/jwks"

// PublicKey returns the public key with kid in the current Set, and
// whether there is one. It lets the service verify its own tokens in
// process (verify.KeyFunc(ring.PublicKey)) and follow reloads without
// fetching its own JWKS over HTTP.
//
// The key is the public half of the one the Set publishes, made once per
// Set and handed to every caller: the same key each time, so that a verifier's key
// cache recognises it and derives nothing per token (a fresh copy per call
// made introspection derive the key on every request). Callers only read
// it; the keys the Set publishes and signs with are out of their reach.
func (r *Ring) PublicKey(kid string) (*jwks.Key, bool) {
	key, ok := r.Current().verifying[kid]
	return key, ok
}
