package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/causeflow/widget-sessions/pkg/jwks"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// Set is the signing keys of the service: one active key that signs, and
// every key of the set (the active one included) published for
// verification. A Set is immutable once built, so it can be shared by any
// number of goroutines and replaced as a whole (see Ring).
type Set struct {
	active signer
	public jwk.Set // never handed out: PublicSet returns deep copies
	// verifying holds a copy of each public key, made once, which
	// PublicKey hands to the service's in-process verifiers.
	verifying map[string]*jwks.Key
	jwks      []byte // never handed out: JWKS returns copies
	etag      string
}

// Load builds a Set from the JWK Set file at path, which must hold private
// keys only, each with a unique kid, each Ed25519 (signing as EdDSA) or
// P-256 (signing as ES256). activeKID names the key that signs; it may be
// empty only when the file holds exactly one key, which is then active.
func Load(path, activeKID string) (*Set, error) {
	keys, err := readKeys(path)
	if err != nil {
		return nil, err
	}
	set, err := newSet(keys, activeKID)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return set, nil
}

// readKeys reads and checks the private keys of the key file at path.
func readKeys(path string) ([]privateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: read key file: %w", err)
	}
	keys, err := parseSetFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return keys, nil
}

// Ephemeral returns a Set of one fresh EdDSA key that lives only in memory.
// It backs the embedded default, where no key is configured: tokens it signs
// die with the process, which is why the caller must say so loudly and why
// the live environment refuses to run this way.
func Ephemeral() (*Set, error) {
	key, err := Generate(token.AlgEdDSA)
	if err != nil {
		return nil, err
	}
	kid, _ := key.KeyID()
	pk, err := checkKey(fmt.Sprintf("key %q", kid), key)
	if err != nil {
		return nil, err
	}
	return newSet([]privateKey{pk}, kid)
}

// newSet picks the active key and precomputes everything a request needs,
// so that serving the JWKS and signing never marshal JSON.
func newSet(keys []privateKey, activeKID string) (*Set, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys: the key set is empty")
	}
	var active *privateKey
	switch {
	case activeKID != "":
		for i := range keys {
			if keys[i].kid == activeKID {
				active = &keys[i]
			}
		}
		if active == nil {
			return nil, fmt.Errorf("keys: active kid %q %w", activeKID, errActiveMissing)
		}
	case len(keys) == 1:
		active = &keys[0]
	default:
		return nil, fmt.Errorf("keys: the key set holds %d keys: %w", len(keys), errAmbiguousActive)
	}
	return build(keys, active)
}

// build makes the Set of keys whose active key is active; nil: a Set that
// publishes keys and signs nothing (ErrNoActiveKey).
func build(keys []privateKey, active *privateKey) (*Set, error) {
	var signer signer
	if active != nil {
		var err error
		if signer, err = newSigner(active); err != nil {
			return nil, err
		}
	}
	public := jwk.NewSet()
	verifying := make(map[string]*jwks.Key, len(keys))
	for _, k := range keys {
		if err := public.AddKey(k.pub); err != nil {
			return nil, fmt.Errorf("keys: key %q: publish: %w", k.kid, err)
		}
		v := &jwks.Key{ID: k.kid, Alg: k.alg}
		if k.ed != nil {
			v.Public = k.ed.Public()
		} else {
			v.Public = &k.ec.PublicKey
		}
		verifying[k.kid] = v
	}
	body, err := json.Marshal(public)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal JWKS: %w", err)
	}
	// The private halves of the keys that do not sign are dropped with
	// keys: a Set keeps no more secret material in memory than it uses.
	sum := sha256.Sum256(body)
	return &Set{
		active:    signer,
		public:    public,
		verifying: verifying,
		jwks:      body,
		etag:      `"` + hex.EncodeToString(sum[:16]) + `"`,
	}, nil
}

// ActiveKID returns the kid of the key that signs; "" when none does
// (see Ring.Reload).
func (s *Set) ActiveKID() string { return s.active.kid }

// ActiveAlg returns the JWS algorithm of the key that signs:
// token.AlgEdDSA or token.AlgES256.
func (s *Set) ActiveAlg() string { return s.active.alg }

// Sign returns the compact JWS of payload signed by the active key, with
// the header {"alg":<alg>,"kid":<kid>,"typ":"wst+jwt"}.
func (s *Set) Sign(payload []byte) (string, error) { return s.active.sign("", payload) }

// SignPrefixed returns prefix followed by Sign's compact JWS, built in one
// buffer: a session token is its environment's prefix and the JWS.
func (s *Set) SignPrefixed(prefix string, payload []byte) (string, error) {
	return s.active.sign(prefix, payload)
}

// JWKS returns the public JWK Set of every key in the set, as served at
// /.well-known/jwks.json, and its strong ETag. Each key carries kty, kid,
// alg, use and its public parameters, nothing else. The ETag depends only
// on the body, so every replica loaded from the same file answers with the
// same ETag. The body is a copy the caller may keep or modify.
func (s *Set) JWKS() (body []byte, etag string) {
	return bytes.Clone(s.jwks), s.etag
}

// PublicSet returns a deep copy of the public keys, for tests and for
// verifying in-process; modifying it does not affect the Set.
func (s *Set) PublicSet() jwk.Set {
	out := jwk.NewSet()
	for i := range s.public.Len() {
		k, _ := s.public.Key(i)
		c, err := k.Clone()
		if err != nil {
			// Cloning a public key the Set built itself cannot fail
			// short of a bug in jwx; an incomplete copy would be worse.
			panic(fmt.Sprintf("keys: clone public key: %v", err))
		}
		_ = out.AddKey(c) // a fresh set holds no duplicates
	}
	return out
}

// errAmbiguousActive: several keys and no active kid named.
var errAmbiguousActive = errors.New("the active kid must be given")

// errActiveMissing: the active kid named is not in the key set.
var errActiveMissing = errors.New("is not in the key set")

// ErrNoActiveKey is returned by signing when no key is active: the key that
// signed was withdrawn from the key file and no key of the file is named
// active yet (see Ring.Reload).
var ErrNoActiveKey = errors.New("keys: no active signing key: the active key was withdrawn from the key file")
