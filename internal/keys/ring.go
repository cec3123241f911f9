package keys

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// errNoFile is returned by a reload of a Ring that was not made from a file.
var errNoFile = errors.New("keys: the ring was not loaded from a file")

// Ring holds the current Set. A request takes the Set once with Current and
// uses it throughout, so a reload that swaps in a new Set never fails or
// mixes keys in a request already under way; the old Set lives on until the
// last such request lets go of it.
type Ring struct {
	cur atomic.Pointer[Set]

	// mu serialises reloads, so that of two reloads racing (two SIGHUPs in
	// a row) the one that read the file last is the one that stays.
	mu        sync.Mutex
	path      string
	activeKID string // guarded by mu
}

// NewRing returns a Ring holding set. It has no file: Reload fails, Swap
// replaces the Set. set must not be nil.
func NewRing(set *Set) *Ring {
	r := &Ring{}
	r.Swap(set)
	return r
}

// NewFileRing returns a Ring holding the Set loaded from the key file at
// path with activeKID (see Load), which Reload reads again.
func NewFileRing(path, activeKID string) (*Ring, error) {
	set, err := Load(path, activeKID)
	if err != nil {
		return nil, err
	}
	r := &Ring{path: path, activeKID: activeKID}
	r.cur.Store(set)
	return r, nil
}

// Current returns the current Set.
func (r *Ring) Current() *Set { return r.cur.Load() }

// Swap makes set the current Set. A nil set is a programming error and
// panics here rather than in every request that follows.
func (r *Ring) Swap(set *Set) {
	if set == nil {
		panic("keys: Swap with a nil Set")
	}
	r.cur.Store(set)
}

// Reload reads the key file again, with the same active kid, and swaps the
// new Set in only if it is valid. On error the current Set stays and the
// error is returned: a broken file never takes down signing.
//
// With an unchanged active kid this publishes keys added to the file and
// stops publishing keys removed from it: the first and last steps of a
// rotation. The middle step, making the next key active, is ReloadActive.
func (r *Ring) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked(r.activeKID)
}

// ReloadActive is Reload with activeKID as the new active kid, which later
// Reloads keep. If the new Set is not valid, nothing changes: neither the
// current Set nor the active kid.
func (r *Ring) ReloadActive(activeKID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reloadLocked(activeKID); err != nil {
		return err
	}
	r.activeKID = activeKID
	return nil
}

func (r *Ring) reloadLocked(activeKID string) error {
	if r.path == "" {
		return errNoFile
	}
	keys, err := readKeys(r.path)
	if err != nil {
		return err
	}
	inUse := r.cur.Load().ActiveKID()
	set, err := newSet(keys, activeKID)
	if errors.Is(err, errAmbiguousActive) && inUse != "" {
		// Configured without a kid, from a file of one key: the next key
		// of a rotation has just been added. Keep signing with the key in
		// use, which is the only safe reading until a kid is configured.
		set, err = newSet(keys, inUse)
	}
	if err != nil && !slices.ContainsFunc(keys, func(k privateKey) bool { return k.kid == inUse }) {
		// The key that signs is gone from the file: it was withdrawn,
		// which is what is done to a compromised key. Stop signing with
		// it and stop publishing it now; sign nothing until the file's
		// active kid names a key the file holds. The reload is still
		// refused, so that it is said and counted.
		withdrawn, berr := build(keys, nil)
		if berr != nil {
			return berr
		}
		r.cur.Store(withdrawn)
		return fmt.Errorf("%w; named active: %w (in %s)", ErrNoActiveKey, err, r.path)
	}
	if err != nil {
		return fmt.Errorf("%w (in %s)", err, r.path)
	}
	r.cur.Store(set)
	return nil
}

// Ready reports ErrNoActiveKey while no key signs.
func (r *Ring) Ready() error {
	if r.Current().ActiveKID() == "" {
		return ErrNoActiveKey
	}
	return nil
}

// Sign signs payload with the current Set's active key (see Set.Sign).
func (r *Ring) Sign(payload []byte) (string, error) { return r.Current().Sign(payload) }

// SignPrefixed signs with the current Set's active key (see Set.SignPrefixed).
func (r *Ring) SignPrefixed(prefix string, payload []byte) (string, error) {
	return r.Current().SignPrefixed(prefix, payload)
}

// JWKS returns the current Set's public JWK Set document and its ETag.
func (r *Ring) JWKS() (body []byte, etag string) { return r.Current().JWKS() }
