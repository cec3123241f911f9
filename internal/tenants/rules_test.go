package tenants

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestThemeRulesAgree: the theme's rules are written three times, in Go
// here, in the SDK (the host's first check, a TypeError) and in the widget
// (the last, on what reaches the page). A value the tenants' document
// accepts must pass the SDK and the widget, and the reverse: the three
// declare the same accent and font patterns and the same radius bound.
func TestThemeRulesAgree(t *testing.T) {
	decl := regexp.MustCompile(`(?m)^\s*var (FONT|ACCENT|MAX_RADIUS) = (.+);$`)
	want := map[string]string{
		"FONT":       "/" + font.String() + "/u",
		"ACCENT":     "/" + accent.String() + "/",
		"MAX_RADIUS": strconv.Itoa(MaxRadius),
	}
	for _, path := range []string{"../../sdk/js/index.js", "../widgetpage/assets/widget.js"} {
		src, err := os.ReadFile(filepath.FromSlash(path))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			if _, dup := got[m[1]]; dup {
				t.Errorf("%s declares %s twice", path, m[1])
			}
			got[m[1]] = m[2]
		}
		for name, w := range want {
			if got[name] != w {
				t.Errorf("%s: var %s = %s, want %s (the rule in internal/tenants)", path, name, got[name], w)
			}
		}
	}
}
