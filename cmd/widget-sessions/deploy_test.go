package main

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var metricName = regexp.MustCompile(`widget_sessions_[a-z0-9_]+`)

// declaredMetrics returns the metric names the code declares: the
// widget_sessions_* string literals of its non-test Go files.
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	decl := regexp.MustCompile(`"(widget_sessions_[a-z0-9_]+)"`)
	for _, dir := range []string{filepath.Join("..", "..", "pkg"), filepath.Join("..", "..", "internal"), filepath.Join("..", "..", "cmd")} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
				names[m[1]] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) < 15 {
		t.Fatalf("found only %d metric names in the code: the scan is stale", len(names))
	}
	return names
}

// TestDeployMetricsExist: every metric the alert rules and the Grafana
// dashboard name is one the service declares (a histogram's _bucket,
// _count and _sum included), so that no alert waits on a series that can
// never exist.
func TestDeployMetricsExist(t *testing.T) {
	declared := declaredMetrics(t)
	rules, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dash, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "widget-sessions.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(dash, &d); err != nil || len(d.Panels) == 0 {
		t.Fatalf("the dashboard does not decode: %v", err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for file, text := range map[string]string{"alerts.yaml": string(rules), "widget-sessions.json": strings.Join(exprs, "\n")} {
		used := metricName.FindAllString(text, -1)
		if len(used) == 0 {
			t.Errorf("%s names no metric", file)
		}
		for _, name := range used {
			base := name
			for _, suffix := range []string{"_bucket", "_count", "_sum"} {
				if trimmed, ok := strings.CutSuffix(name, suffix); ok && declared[trimmed] {
					base = trimmed
				}
			}
			if !declared[base] {
				t.Errorf("%s names %s, which the service does not declare; it declares %v", file, name, slices.Sorted(maps.Keys(declared)))
			}
		}
	}
}
