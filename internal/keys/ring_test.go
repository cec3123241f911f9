package keys_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// publishedKIDs returns the kids in set's JWKS.
func publishedKIDs(t *testing.T, set *keys.Set) []string {
	t.Helper()
	ps := set.PublicSet()
	kids := make([]string, 0, ps.Len())
	for i := range ps.Len() {
		k, _ := ps.Key(i)
		kid, _ := k.KeyID()
		kids = append(kids, kid)
	}
	return kids
}

func TestRingRotation(t *testing.T) {
	// The procedure of ARCHITECTURE.md, end to end: publish the next key,
	// make it active, drop the old one; old tokens verify until the drop.
	path := filepath.Join(t.TempDir(), "keys.json")
	old, err := keys.AppendToFile(path, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.NewFileRing(path, old)
	if err != nil {
		t.Fatal(err)
	}
	oldTok, err := ring.Current().Sign(claims(t))
	if err != nil {
		t.Fatal(err)
	}

	next, err := keys.AppendToFile(path, token.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name       string
		do         func() error
		active     string
		published  string
		oldIsValid bool
	}{
		{"publish the next key", ring.Reload, old, old + "," + next, true},
		{"make it active", func() error { return ring.ReloadActive(next) }, next, old + "," + next, true},
		{"reload keeps the new active kid", ring.Reload, next, old + "," + next, true},
		{"drop the old key", func() error {
			var kept []any
			for _, k := range readKeys(t, path) {
				if k["kid"] != old {
					kept = append(kept, k)
				}
			}
			rewriteSet(t, path, kept...)
			return ring.Reload()
		}, next, next, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := ring.Current()
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			set := ring.Current()
			if set == before {
				t.Error("the Set was not swapped")
			}
			if set.ActiveKID() != st.active {
				t.Errorf("active = %s, want %s", set.ActiveKID(), st.active)
			}
			if got := strings.Join(publishedKIDs(t, set), ","); got != st.published {
				t.Errorf("published %s, want %s", got, st.published)
			}
			_, err := jwt.Parse([]byte(oldTok), jwt.WithKeySet(set.PublicSet()))
			if (err == nil) != st.oldIsValid {
				t.Errorf("old token verifies: %v, want %v", err == nil, st.oldIsValid)
			}
			tok, err := set.Sign(claims(t))
			if err != nil {
				t.Fatal(err)
			}
			assertVerifies(t, set, tok, claims(t))
		})
	}
}

// readKeys returns the keys of the JWK Set file at path as JSON objects.
func readKeys(t *testing.T, path string) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	readJSON(t, path, &doc)
	return doc.Keys
}

func TestRingReloadNewSingleKey(t *testing.T) {
	// With no active kid, a file of one key: replacing the key is picked up.
	first, second := genKey(t, token.AlgEdDSA), genKey(t, token.AlgES256)
	path := writeSet(t, first)
	ring, err := keys.NewFileRing(path, "")
	if err != nil {
		t.Fatal(err)
	}
	rewriteSet(t, path, second)
	if err := ring.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := ring.Current().ActiveKID(); got != kidOf(t, second) {
		t.Errorf("active = %s, want the new key %s", got, kidOf(t, second))
	}
	if got := ring.Current().ActiveAlg(); got != token.AlgES256 {
		t.Errorf("alg = %s, want ES256", got)
	}
}

func TestRingReloadKeepsOldSetOnError(t *testing.T) {
	k := genKey(t, token.AlgEdDSA)
	breakages := []struct {
		name   string
		breaks func(t *testing.T, path string) error // returns the reload's error
	}{
		{"not JSON", func(t *testing.T, path string) error {
			if err := os.WriteFile(path, []byte(`{"keys":[`), 0o600); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{"truncated to nothing", func(t *testing.T, path string) error {
			return os.WriteFile(path, nil, 0o600)
		}},
		{"removed", func(t *testing.T, path string) error { return os.Remove(path) }},
		{"public key only", func(t *testing.T, path string) error {
			pub, err := k.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			rewriteSet(t, path, pub)
			return nil
		}},
	}
	for _, br := range breakages {
		t.Run(br.name, func(t *testing.T) {
			path := writeSet(t, k)
			ring, err := keys.NewFileRing(path, kidOf(t, k))
			if err != nil {
				t.Fatal(err)
			}
			before := ring.Current()
			if err := br.breaks(t, path); err != nil {
				t.Fatal(err)
			}
			if err := ring.Reload(); err == nil || !strings.HasPrefix(err.Error(), "keys: ") {
				t.Fatalf("Reload error = %v, want a keys: error", err)
			}
			if ring.Current() != before {
				t.Error("a failed reload replaced the Set")
			}
			if _, err := ring.Current().Sign(claims(t)); err != nil {
				t.Errorf("Sign after a failed reload: %v", err)
			}
		})
	}

	t.Run("unknown active kid keeps the old one for later reloads", func(t *testing.T) {
		path := writeSet(t, k)
		ring, err := keys.NewFileRing(path, "")
		if err != nil {
			t.Fatal(err)
		}
		before := ring.Current()
		if err := ring.ReloadActive("nope"); err == nil {
			t.Fatal("ReloadActive with an unknown kid succeeded")
		}
		if ring.Current() != before {
			t.Error("a failed ReloadActive replaced the Set")
		}
		if err := ring.Reload(); err != nil {
			t.Errorf("Reload after a failed ReloadActive: %v", err)
		}
	})
}

// TestRingWithdrawnActiveKey: a reload that finds the signing key gone from
// the file (withdrawn, as a compromised key is) stops signing with it and
// stops publishing it at once, and signs nothing until the active kid names
// a key the file holds; meanwhile the ring is not ready. A named kid that is
// missing while the signing key is still in the file (a typo) changes
// nothing.
func TestRingWithdrawnActiveKey(t *testing.T) {
	old, next := genKey(t, token.AlgEdDSA), genKey(t, token.AlgES256)
	path := writeSet(t, old, next)
	ring, err := keys.NewFileRing(path, kidOf(t, old))
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.ReloadActive("typo"); err == nil || errors.Is(err, keys.ErrNoActiveKey) || ring.Current().ActiveKID() != kidOf(t, old) {
		t.Fatalf("a missing kid with the signing key still in the file: %v, active %q; want refused and unchanged", err, ring.Current().ActiveKID())
	}

	rewriteSet(t, path, next)
	if err := ring.Reload(); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Fatalf("Reload with the active key withdrawn = %v, want ErrNoActiveKey", err)
	}
	if _, err := ring.Sign(claims(t)); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Errorf("Sign with the active key withdrawn = %v, want ErrNoActiveKey", err)
	}
	if _, err := ring.SignPrefixed("wst_test_", claims(t)); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Errorf("SignPrefixed with the active key withdrawn = %v, want ErrNoActiveKey", err)
	}
	if got := publishedKIDs(t, ring.Current()); !slices.Equal(got, []string{kidOf(t, next)}) {
		t.Errorf("published %v, want only the key left in the file", got)
	}
	if ring.Ready() == nil {
		t.Error("ready with no active key")
	}
	// Reloads stay refused, and signing stopped, until a present key is named.
	if err := ring.Reload(); !errors.Is(err, keys.ErrNoActiveKey) || ring.Ready() == nil {
		t.Errorf("a second Reload = %v; want still no active key", err)
	}
	if err := ring.ReloadActive(kidOf(t, next)); err != nil {
		t.Fatalf("naming the key left: %v", err)
	}
	if _, err := ring.Sign(claims(t)); err != nil || ring.Ready() != nil || ring.Current().ActiveKID() != kidOf(t, next) {
		t.Errorf("after naming the key left: sign %v, ready %v, active %q", err, ring.Ready(), ring.Current().ActiveKID())
	}
}

func TestRingWithoutFile(t *testing.T) {
	a, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	if a.ActiveKID() == b.ActiveKID() || a.ActiveAlg() != token.AlgEdDSA {
		t.Errorf("ephemeral sets %s/%s and %s/%s", a.ActiveKID(), a.ActiveAlg(), b.ActiveKID(), b.ActiveAlg())
	}
	ring := keys.NewRing(a)
	if ring.Current() != a {
		t.Error("NewRing does not hold its Set")
	}
	if err := ring.Reload(); err == nil || !strings.HasPrefix(err.Error(), "keys: ") {
		t.Errorf("Reload without a file: %v", err)
	}
	if ring.Current() != a {
		t.Error("a failed reload replaced the Set")
	}
	ring.Swap(b)
	if ring.Current() != b {
		t.Error("Swap did not replace the Set")
	}
}

func TestRingConcurrentSignDuringReload(t *testing.T) {
	// Run with -race: signers take the Set once per token while the file
	// is rewritten and reloaded under them, alternating the active key and
	// now and then breaking the file.
	path := filepath.Join(t.TempDir(), "keys.json")
	kidA, err := keys.AppendToFile(path, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	kidB, err := keys.AppendToFile(path, token.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := keys.NewFileRing(path, kidA)
	if err != nil {
		t.Fatal(err)
	}

	var (
		stop    atomic.Bool
		signed  atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		firstEr error
	)
	fail := func(err error) { errOnce.Do(func() { firstEr = err }) }
	for range 4 {
		wg.Go(func() {
			payload := claims(t)
			for !stop.Load() {
				set := ring.Current()
				compact, err := set.Sign(payload)
				if err != nil {
					fail(err)
					return
				}
				if _, err := jwt.Parse([]byte(compact), jwt.WithKeySet(set.PublicSet())); err != nil {
					fail(err)
					return
				}
				signed.Add(1)
			}
		})
	}

	for i := range 40 {
		switch i % 4 {
		case 0:
			if err := ring.ReloadActive(kidB); err != nil {
				t.Error(err)
			}
		case 1:
			if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := ring.Reload(); err == nil {
				t.Error("reload of a broken file succeeded")
			}
		case 2:
			if err := os.WriteFile(path, good, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := ring.ReloadActive(kidA); err != nil {
				t.Error(err)
			}
		case 3:
			if err := ring.Reload(); err != nil {
				t.Error(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if firstEr != nil {
		t.Fatalf("a signer failed during reloads: %v", firstEr)
	}
	if signed.Load() == 0 {
		t.Fatal("no token was signed during the reloads")
	}
	if got := ring.Current().ActiveKID(); got != kidA {
		t.Errorf("active = %s, want %s", got, kidA)
	}
}
