package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/internal/keys"
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
	write := func(path, content string) { t.Helper(); replaceFile(t, path, content) }
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
		wait.For(t, what, ok, func() string { return "log:\n" + s.log.String() })
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
	removeKey(t, keyFile, old)
	eventually("the old key withdrawn", func() bool { kids := jwksKIDs(t, s); return !kids[old] && kids[next] })
	if kid := signer(); kid != next {
		t.Errorf("after the rotation, tokens are signed by %q, want %q", kid, next)
	}
}

// replaceFile replaces the file at path whole with content, as a Secret
// mount does.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// removeKey rewrites the key file without the key kid.
func removeKey(t *testing.T, keyFile, kid string) {
	t.Helper()
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
	set.Keys = slices.DeleteFunc(set.Keys, func(k map[string]any) bool { return k["kid"] == kid })
	out, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, keyFile, string(out))
}

// TestWithdrawnActiveKey: the active key removed from the watched key file
// while the kid file still names it (a compromised key withdrawn). Within
// a watch interval the replica stops signing with it and stops publishing
// it; mints answer 503 and the replica is not ready, and the refused
// reload is counted, until the kid file names a key the file holds.
func TestWithdrawnActiveKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile, kidFile := filepath.Join(dir, "keys.jwks.json"), filepath.Join(dir, "active-kid")
	compromised, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	spare, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	replaceFile(t, kidFile, compromised+"\n")
	s := startServer(t, map[string]string{
		"WIDGET_SIGNING_KEYS": keyFile, "WIDGET_SIGNING_KID_FILE": kidFile, "WIDGET_KEYS_WATCH_INTERVAL": "50ms",
	})
	caller := devToken(t, s, "demo", "user_alice", "member")
	if status, kid, err := mintOnce(s, caller); err != nil || status != http.StatusCreated || kid != compromised {
		t.Fatalf("mint before: %d %q %v", status, kid, err)
	}

	removeKey(t, keyFile, compromised)
	wait.For(t, "the withdrawn key unpublished", func() bool { kids := jwksKIDs(t, s); return !kids[compromised] && kids[spare] })
	status, kid, err := mintOnce(s, caller)
	if err != nil || status != http.StatusServiceUnavailable || kid != "" {
		t.Errorf("mint with the active key withdrawn: %d signed by %q (%v), want 503 and no token", status, kid, err)
	}
	if r := s.get(t, s.internal+"/readyz"); r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "no active signing key") {
		t.Errorf("/readyz with no active key: %d %s, want 503 naming the key", r.status, r.body)
	}
	metrics := string(s.get(t, s.internal+"/metrics").body)
	if !strings.Contains(metrics, "widget_sessions_signing_key_active 0") || strings.Contains(metrics, `widget_sessions_key_reloads_total{result="refused"} 0`) {
		t.Errorf("the withdrawal is not in the metrics:\n%s", metrics)
	}
	if !strings.Contains(s.log.String(), "SIGNING STOPPED") {
		t.Errorf("the withdrawal was not said\nlog:\n%s", s.log)
	}

	replaceFile(t, kidFile, spare+"\n")
	wait.For(t, "signing with the named key", func() bool {
		status, kid, _ := mintOnce(s, caller)
		return status == http.StatusCreated && kid == spare
	})
	s.waitReady(t, http.StatusOK, 3*time.Second)
}
