package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// KeySource finds the public key a token names by its kid. *jwks.Cache
// satisfies it (a remote or file JWK Set, refreshed on an unknown kid);
// KeyFunc and StaticKeys serve keys held in process.
//
// An error wrapping ErrUnknownKey or jwks.ErrUnknownKey means no such key
// is published; any other error means the source cannot tell, and Verify
// reports it as ErrKeysUnavailable. A source must not modify a key it has
// handed out: the verifier remembers what it derived from it.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jwks.Key, error)
}

// KeyFunc is a KeySource made of a lookup function, such as the service's
// own (*keys.Ring).PublicKey: verify.KeyFunc(ring.PublicKey) lets the
// minting service verify its tokens in process, following key reloads.
type KeyFunc func(kid string) (*jwks.Key, bool)

// Key returns f(kid), or ErrUnknownKey when f finds no key.
func (f KeyFunc) Key(_ context.Context, kid string) (*jwks.Key, error) {
	if k, ok := f(kid); ok && k != nil {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// StaticKeys is a KeySource over a fixed set of keys, for tools and tests,
// or a verifier whose keys only change with a restart.
type StaticKeys struct {
	keys map[string]*jwks.Key
}

// NewStaticKeys returns a StaticKeys of keys, such as jwks.Parse returns
// for a JWK Set. Every key must carry a unique kid and be usable for
// session tokens (Ed25519 or P-256, any declared alg agreeing); unlike a
// fetched set, a configured one fails loudly rather than skip a key. The
// keys are copied: changing them afterwards changes nothing here.
func NewStaticKeys(keys ...*jwks.Key) (*StaticKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("verify: static key set is empty")
	}
	s := &StaticKeys{keys: make(map[string]*jwks.Key, len(keys))}
	for i, k := range keys {
		if k == nil || k.ID == "" {
			return nil, fmt.Errorf("verify: static key #%d has no kid", i)
		}
		if _, dup := s.keys[k.ID]; dup {
			return nil, fmt.Errorf("verify: static key %q: duplicate kid", k.ID)
		}
		p, err := newPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("verify: static key %q: %w", k.ID, err)
		}
		// A copy holding the public half only, whatever the caller passed.
		c := &jwks.Key{ID: k.ID, Alg: k.Alg, Public: p.ed}
		if p.ec != nil {
			c.Public = p.ec
		}
		s.keys[k.ID] = c
	}
	return s, nil
}

// Key returns the key with kid, or ErrUnknownKey.
func (s *StaticKeys) Key(_ context.Context, kid string) (*jwks.Key, error) {
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// sourceError maps a KeySource error to ours. Only the unknown-key case
// drops the source's text: it is a verdict on the token and says nothing
// an operator needs, while "unavailable" keeps its cause for the logs.
func sourceError(err error) error {
	if errors.Is(err, jwks.ErrUnknownKey) || errors.Is(err, ErrUnknownKey) {
		return ErrUnknownKey
	}
	return fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
}

// publicKey is a jwks.Key made ready to verify with: its algorithm
// settled and its raw key checked once, not on every token.
type publicKey struct {
	src atomic.Pointer[jwks.Key] // the key this was last derived from
	alg string                   // token.AlgEdDSA or token.AlgES256
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
	err error // non-nil: the key cannot verify session tokens
}

// newPublicKey derives the algorithm from the key material (Ed25519 →
// EdDSA, P-256 → ES256) and requires any "alg" the key declares to agree,
// so that the algorithm is a property of the key: a token's header can
// only name it, never choose it.
func newPublicKey(k *jwks.Key) (*publicKey, error) {
	p := &publicKey{}
	switch key := k.Public.(type) {
	case ed25519.PublicKey:
		p.alg, p.ed = token.AlgEdDSA, key
	case ed25519.PrivateKey:
		if len(key) != ed25519.PrivateKeySize {
			return nil, errKeyUnusable // Public would panic
		}
		p.alg, p.ed = token.AlgEdDSA, key.Public().(ed25519.PublicKey)
	case *ecdsa.PublicKey:
		p.alg, p.ec = token.AlgES256, key
	case *ecdsa.PrivateKey:
		p.alg, p.ec = token.AlgES256, &key.PublicKey
	default:
		return nil, errKeyUnusable
	}
	if p.ed != nil && len(p.ed) != ed25519.PublicKeySize {
		return nil, errKeyUnusable // ed25519.Verify would panic
	}
	if p.ec != nil && p.ec.Curve != elliptic.P256() {
		return nil, errKeyUnusable
	}
	if p.ec != nil {
		if _, err := p.ec.Bytes(); err != nil {
			return nil, errKeyUnusable // not a point on the curve
		}
	}
	if k.Alg != "" && k.Alg != p.alg {
		return nil, errKeyUnusable
	}
	return p, nil
}

// verify reports whether sig is a signature of input under p.
func (p *publicKey) verify(input []byte, sig *[sigSize]byte) bool {
	if p.ed != nil {
		return ed25519.Verify(p.ed, input, sig[:])
	}
	// JWS carries ES256 as r||s, 32 bytes each (RFC 7518 §3.4), not DER.
	// ecdsa.Verify checks that r and s are in range.
	h := sha256.Sum256(input)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(p.ec, h[:], r, s)
}

// maxCachedKeys bounds the key cache; past it, it starts over.
const maxCachedKeys = 64

// keyCache remembers, per kid, the publicKey derived from the *jwks.Key
// the source last returned. A hit is a map lookup and a pointer
// comparison: *jwks.Cache returns the same key until it fetches the set
// again.
type keyCache struct {
	m  atomic.Pointer[map[string]*publicKey]
	mu sync.Mutex // serialises writers
}

func (c *keyCache) get(kid string, k *jwks.Key) *publicKey {
	var old *publicKey
	if m := c.m.Load(); m != nil {
		old = (*m)[kid]
	}
	if old != nil && old.src.Load() == k {
		return old
	}
	p, err := newPublicKey(k)
	if err != nil {
		p = &publicKey{err: err}
	}
	p.src.Store(k)
	if old != nil && old.same(p) {
		// The same key material in a new jwks.Key: the set was
		// fetched again, or the source handed out a new copy.
		// Re-point the entry instead of rewriting the map.
		old.src.Store(k)
		return old
	}
	c.put(kid, p)
	return p
}

func (c *keyCache) put(kid string, p *publicKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	next := make(map[string]*publicKey, maxCachedKeys)
	if old != nil && len(*old) < maxCachedKeys {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[kid] = p
	c.m.Store(&next)
}

// same reports whether p and q verify alike.
func (p *publicKey) same(q *publicKey) bool {
	switch {
	case p.err != nil || q.err != nil:
		return p.err == q.err
	case p.alg != q.alg:
		return false
	case p.ed != nil:
		return p.ed.Equal(q.ed)
	default:
		return q.ec != nil && p.ec.Equal(q.ec)
	}
}
