package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docFiles are the Markdown pages a reader meets: the README and docs/.
func docFiles(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(pages) < 5 {
		t.Fatalf("docs/*.md: %v (%d pages)", err, len(pages))
	}
	return append([]string{filepath.Join("..", "..", "README.md")}, pages...)
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	fence     = regexp.MustCompile("(?s)(<!-- ci:[^>]*-->\\n)?```sh\\n(.*?)```")
)

// slug is the anchor GitHub gives a heading.
func slug(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	var b strings.Builder
	for _, r := range h {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocLinks: every relative link of the README and docs/ names a file
// that exists and, with a #fragment, a heading of that file.
func TestDocLinks(t *testing.T) {
	for _, page := range docFiles(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := page
			if path != "" {
				file = filepath.Join(filepath.Dir(page), path)
			}
			content, err := os.ReadFile(file)
			if err != nil {
				t.Errorf("%s: link %q: %v", page, target, err)
				continue
			}
			if anchor == "" {
				continue
			}
			found := false
			for _, h := range mdHeading.FindAllStringSubmatch(string(content), -1) {
				found = found || slug(h[1]) == anchor
			}
			if !found {
				t.Errorf("%s: link %q: %s has no heading #%s", page, target, file, anchor)
			}
		}
	}
}

// TestDocCommands: every `make` target a command block names exists, and
// every `go run` path is a directory of the repository; the blocks marked
// "<!-- ci: ... -->" run, in order, as a reader would run them, against a
// server started here on the embedded default (the README's quickstart).
func TestDocCommands(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z-]*):`).FindAllStringSubmatch(string(mk), -1) {
		targets[m[1]] = true
	}
	makeCmd := regexp.MustCompile(`(?m)(?:^|\s)make ([a-z][a-z-]*)`)
	goRun := regexp.MustCompile(`go run (\./cmd/[a-z-]+)`)
	var script []string
	for _, page := range docFiles(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
			block := m[2]
			for _, c := range makeCmd.FindAllStringSubmatch(block, -1) {
				if !targets[c[1]] {
					t.Errorf("%s: `make %s` names no Makefile target", page, c[1])
				}
			}
			for _, c := range goRun.FindAllStringSubmatch(block, -1) {
				if st, err := os.Stat(filepath.Join("..", "..", c[1])); err != nil || !st.IsDir() {
					t.Errorf("%s: `go run %s`: no such command", page, c[1])
				}
			}
			if m[1] != "" {
				script = append(script, block)
			}
		}
	}
	if len(script) == 0 {
		t.Fatal("no command block is marked to run in CI")
	}

	keyFile := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
	s := startServer(t, map[string]string{"WIDGET_DEV_IDP_KEY": keyFile})
	addr := strings.TrimPrefix(s.public, "http://")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(strings.Join(script, "\n"), "127.0.0.1:8080", addr))
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "WIDGET_DEV_IDP_KEY="+keyFile)
	out, err := cmd.CombinedOutput()
	// What is printed on failure holds no token: session tokens and JWTs
	// are cut to their first characters.
	shown := regexp.MustCompile(`(wst_test_|eyJ)[A-Za-z0-9_.-]{8,}`).ReplaceAllString(string(out), "${1}…")
	if err != nil {
		t.Fatalf("the documented commands failed: %v\n%s", err, shown)
	}
	for _, want := range []string{`"sessionToken":"wst_test_`, `"widgetUrl":"https://widget.causeflow.ai/embed?session=wsess_`, `"keys":[{`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the documented commands' output lacks %s:\n%s", want, shown)
		}
	}
}
