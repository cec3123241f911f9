package api_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/api"
)

// internalRoutes are the operations of api.NewInternal. A ServeMux cannot
// list its patterns, so the list is written here and probed below.
var internalRoutes = []string{"GET /healthz", "GET /readyz", "GET /metrics"}

// TestRoutesMatchSpec holds routes.go and openapi.yaml together: the same
// operations, and the public routes registered in the spec's order.
func TestRoutesMatchSpec(t *testing.T) {
	s := loadSpec(t)
	f := newFixture(t)

	var specOps []string
	for path, item := range s.doc.Paths.Map() {
		for method := range item.Operations() {
			specOps = append(specOps, strings.ToUpper(method)+" "+path)
		}
	}
	var engineOps []string
	for _, r := range f.engine.Routes() {
		engineOps = append(engineOps, r.Method+" "+openAPIPath(r.Path))
	}
	served := append(slices.Clone(engineOps), internalRoutes...)
	slices.Sort(specOps)
	slices.Sort(served)
	if !slices.Equal(specOps, served) {
		t.Errorf("operations differ:\n  openapi.yaml:   %v\n  engine+internal: %v", specOps, served)
	}

	t.Run("internal routes are served", func(t *testing.T) {
		h := api.NewInternal(f.reg, func() error { return nil }, nil, false)
		for _, op := range internalRoutes {
			method, path, _ := strings.Cut(op, " ")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			if rec.Code != http.StatusOK {
				t.Errorf("%s: status %d, want 200", op, rec.Code)
			}
		}
		// ... and nothing else is, so the list above is the whole of it.
		for _, op := range []string{"GET /", "GET /debug/pprof/", "POST /healthz", "GET " + mintPath} {
			method, path, _ := strings.Cut(op, " ")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
			if rec.Code < 400 {
				t.Errorf("%s: status %d, want it not served", op, rec.Code)
			}
		}
	})

	t.Run("routes.go order", func(t *testing.T) {
		surfaces := routesInSource(t, "routes.go")
		var registered []string
		for _, ops := range surfaces {
			registered = append(registered, ops...)
		}
		engine := slices.Clone(engineOps)
		slices.Sort(engine)
		if sorted := slices.Sorted(slices.Values(registered)); !slices.Equal(sorted, engine) {
			t.Fatalf("routes read from routes.go %v are not the engine's %v: the source scan is stale", registered, engine)
		}
		order := specPathOrder(t, specFile)
		for name, ops := range surfaces {
			var want []string // the spec's order, this surface's operations only
			for _, path := range order {
				for _, op := range ops {
					if _, p, _ := strings.Cut(op, " "); p == path && !slices.Contains(want, op) {
						want = append(want, op)
					}
				}
			}
			if !slices.Equal(ops, want) {
				t.Errorf("routes.go's %s registers %v, want the order of openapi.yaml: %v", name, ops, want)
			}
		}
	})
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// openAPIPath turns gin's /a/:id and /a/*rest into OpenAPI's /a/{id}.
func openAPIPath(p string) string { return ginParam.ReplaceAllString(p, "{$1}") }

var (
	routeCall = regexp.MustCompile(`^\s*r\.(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\("([^"]+)"`)
	funcDecl  = regexp.MustCompile(`^func ([A-Za-z0-9_]+)\(`)
)

// routesInSource returns, for each function of file that registers
// routes, "METHOD /path" for each r.METHOD("/path", ...) call in it, in
// source order: gin's Routes() lists routes by tree, not by registration,
// so the order can only be read from the source.
func routesInSource(t *testing.T, file string) map[string][]string {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	surfaces := map[string][]string{}
	surface := ""
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if m := funcDecl.FindStringSubmatch(sc.Text()); m != nil {
			surface = m[1]
		}
		if m := routeCall.FindStringSubmatch(sc.Text()); m != nil {
			surfaces[surface] = append(surfaces[surface], m[1]+" "+openAPIPath(m[2]))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(surfaces) != 2 {
		t.Fatalf("found routes in %d functions of %s, want 2 (API and Edge): the source scan is stale", len(surfaces), file)
	}
	return surfaces
}

var specPath = regexp.MustCompile(`^  (/[^:\s]*):\s*$`)

// specPathOrder returns the paths of the spec in document order (the
// loaded document keeps them in a map), and checks that it found them all.
func specPathOrder(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	inPaths := false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "paths:":
			inPaths = true
		case inPaths && line != "" && line[0] != ' ' && line[0] != '#':
			inPaths = false
		case inPaths:
			if m := specPath.FindStringSubmatch(line); m != nil {
				paths = append(paths, m[1])
			}
		}
	}
	loaded := loadSpec(t).doc.Paths.Len()
	if len(paths) != loaded {
		t.Fatalf("read %d paths from %s in order, the loader found %d: the scan is stale", len(paths), file, loaded)
	}
	return paths
}
