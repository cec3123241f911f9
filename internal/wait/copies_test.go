package wait

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWaitCopiesAgree holds the public module's copy of this package
// (pkg/internal/wait: internal packages cannot cross a module's edge) to
// this one: the code, from the imports on, is the same text.
func TestWaitCopiesAgree(t *testing.T) {
	code := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := strings.Index(s, "\nimport (")
		if i < 0 {
			t.Fatalf("%s has no import block", path)
		}
		return s[i:]
	}
	ours := code("wait.go")
	theirs := code(filepath.Join("..", "..", "pkg", "internal", "wait", "wait.go"))
	if ours != theirs {
		t.Error("internal/wait/wait.go and pkg/internal/wait/wait.go differ below their package comments: change both")
	}
}
