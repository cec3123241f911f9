package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// TestStagedRotationFromWatchedFiles runs a key rotation the way an
// operator does it on Kubernetes, by changing mounted files only, with no
// signal and no restart: the next key is added to the key file (published,
// not yet signing), the kid file names it (it signs), the old key is
// removed (withdrawn). A kid file naming no key is refused, said, and the
// active key kept.
func TestStagedRotationFromWatchedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile, kidFile := filepath.Join(dir, "keys.jwks.json"), filepath.Join(dir, "active-kid")
	old, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		t.Helper()
		// As a Secret mount does: the new content replaces the file whole.
		tmp := path + ".new"
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(kidFile, old+"\n")
	s := startServer(t, map[string]string{
		"WIDGET_SIGNING_KEYS": keyFile, "WIDGET_SIGNING_KID_FILE": kidFile, "WIDGET_KEYS_WATCH_INTERVAL": "50ms",
	})
	caller := devToken(t, s, "demo", "user_alice", "member")
	signer := func() string {
		t.Helper()
		status, kid, err := mintOnce(s, caller)
		if err != nil || status != http.StatusCreated {
			t.Fatalf("mint: %d %v", status, err)
		}
		return kid
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen within 3 s\nlog:\n%s", what, s.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// 1. The next key is added: published, and the old one still signs.
	next, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	eventually("the next key published", func() bool { return jwksKIDs(t, s)[next] })
	if kid := signer(); kid != old {
		t.Errorf("after adding the next key, tokens are signed by %q, want still %q", kid, old)
	}

	// 2. The kid file names it: it signs.
	write(kidFile, next+"\n")
	eventually("the next key signing", func() bool { return signer() == next })

	// A kid file naming no key of the file is refused: the next key goes on.
	write(kidFile, "no-such-kid\n")
	if !s.log.waitFor("key reload failed", 3*time.Second) {
		t.Fatalf("a kid file naming no key was not refused\nlog:\n%s", s.log)
	}
	if kid := signer(); kid != next {
		t.Errorf("after a refused kid file, tokens are signed by %q, want %q", kid, next)
	}
	write(kidFile, next+"\n")

	// 3. The old key is removed from the file: withdrawn.
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	var kept []map[string]any
	for _, k := range set.Keys {
		if k["kid"] != old {
			kept = append(kept, k)
		}
	}
	set.Keys = kept
	out, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	write(keyFile, string(out))
	eventually("the old key withdrawn", func() bool { kids := jwksKIDs(t, s); return !kids[old] && kids[next] })
	if kid := signer(); kid != next {
		t.Errorf("after the rotation, tokens are signed by %q, want %q", kid, next)
	}
}
