package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerated: the /sdk.js and /sdk.d.ts the server serves are exactly
// what sdkgen writes from the npm package's source, so the two cannot
// drift. Run `go generate ./internal/widgetpage` after editing sdk/js.
func TestGenerated(t *testing.T) {
	files, err := generate(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("..", "assets", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("internal/widgetpage/assets/%s is not what sdk/js generates: run `go generate ./internal/widgetpage`", name)
		}
	}
}

func TestScriptRefuses(t *testing.T) {
	for name, src := range map[string]string{
		"no mount":       "export function other() {}\n",
		"two mounts":     "export function mount() {}\nexport function mount() {}\n",
		"another export": "export function mount() {}\nexport const x = 1;\n",
		"an import":      "import x from \"y\";\nexport function mount() {}\n",
	} {
		if _, err := Script([]byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	out, err := Script([]byte("var A = 1;\nexport function mount(opts) { return A; }\n"))
	if err != nil || !strings.Contains(string(out), "\nfunction mount(opts)") || !strings.Contains(string(out), "window.CauseFlowWidget = Object.freeze({ mount: mount });") {
		t.Errorf("Script = %s, %v", out, err)
	}
}
