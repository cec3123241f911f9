package widgetpage_test

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/locale"
	"github.com/causeflow/widget-sessions/internal/widgetpage"
)

// TestStrings: the widget speaks exactly the languages locale.Names lists
// (what the tenants' document and the assistant's prompt rely on); every
// language has every string, with the same {placeholders}; and every key
// widget.js and the page ask for exists.
func TestStrings(t *testing.T) {
	all, err := widgetpage.Strings()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(all)), slices.Sorted(maps.Keys(locale.Names)); !slices.Equal(got, want) {
		t.Fatalf("languages %v, want locale.Names's %v", got, want)
	}
	placeholder := regexp.MustCompile(`\{\w+\}`)
	en := all["en"]
	for lang, strs := range all {
		if got, want := slices.Sorted(maps.Keys(strs)), slices.Sorted(maps.Keys(en)); !slices.Equal(got, want) {
			t.Errorf("%s has keys %v, want en's %v", lang, got, want)
		}
		for k, v := range strs {
			if v == "" || strings.TrimSpace(v) != v {
				t.Errorf("%s.%s = %q: empty or padded", lang, k, v)
			}
			if got, want := placeholder.FindAllString(v, -1), placeholder.FindAllString(en[k], -1); !slices.Equal(got, want) {
				t.Errorf("%s.%s has placeholders %v, want en's %v", lang, k, got, want)
			}
		}
	}
	used := map[string]bool{}
	js, _ := os.ReadFile("assets/widget.js")
	for _, m := range regexp.MustCompile(`\bt\("(\w+)"`).FindAllStringSubmatch(string(js), -1) {
		used[m[1]] = true
	}
	// The stream's final errors name their string in a table.
	for _, m := range regexp.MustCompile(`message: "(\w+)", reason:`).FindAllStringSubmatch(string(js), -1) {
		used[m[1]] = true
	}
	html, _ := os.ReadFile("assets/embed.html")
	for _, m := range regexp.MustCompile(`data-i18n(?:-[a-z-]+)?="(\w+)"`).FindAllStringSubmatch(string(html), -1) {
		used[m[1]] = true
	}
	if len(used) < 30 {
		t.Fatalf("found %d string keys in use; the patterns no longer match the sources", len(used))
	}
	for k := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("widget.js or embed.html asks for %q, which i18n.js lacks", k)
		}
	}
	for k := range en {
		if !used[k] {
			t.Errorf("i18n.js's %q is used nowhere", k)
		}
	}
}
