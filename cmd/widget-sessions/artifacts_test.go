//go:build browser || regions

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// writeArtifact writes b to artifacts/name, where CI keeps what the
// browser tests saw.
func writeArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := filepath.Join("..", "..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
