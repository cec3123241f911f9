package audit_test

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/audit"
)

// TestStdoutPipe: on stdout the trail is a stream, as a container's stdout
// is (a pipe): Close writes out the buffered lines and reports no error,
// though a pipe cannot be synced.
func TestStdoutPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	trail, err := audit.Open("stdout", w, time.Hour) // buffered until Close
	if err != nil {
		t.Fatal(err)
	}
	trail.Record(&audit.Event{Type: audit.KeysReloaded, Actor: audit.Actor{Kind: audit.KindSystem}, Outcome: audit.OK})
	if err := trail.Close(); err != nil {
		t.Fatalf("Close on a pipe: %v", err)
	}
	w.Close()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || len(line) < 20 {
		t.Fatalf("the buffered line was not written out: %q, %v", line, err)
	}
}

// TestFileSink: a file sink is created 0600, appended to, and synced.
func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for range 2 {
		trail, err := audit.Open(path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		trail.Record(&audit.Event{Type: audit.KeysReloaded, Actor: audit.Actor{Kind: audit.KindSystem}, Outcome: audit.OK})
		if err := trail.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, c := range b {
		if c == '\n' {
			lines++
		}
	}
	if lines != 2 {
		t.Errorf("%d lines after two opens, want 2 (appended)", lines)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
}
