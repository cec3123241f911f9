package tenants_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/causeflow/widget-sessions/internal/tenants"
)

var defaults = tenants.Options{Defaults: tenants.Settings{EmbedOrigins: []string{"https://default.example"}, MaxRepliesInFlight: 20}}

const doc = `{"tenants": {"acme": {"embedOrigins": ["https://app.acme.example"], "maxRepliesInFlight": 3}, "closed": {"embedOrigins": []}, "plain": {}}}`

// TestGet: a listed tenant's settings, defaults for what it leaves out and
// for a tenant not listed; [] is a list (no page), not "unset".
func TestGet(t *testing.T) {
	s := open(t, file(t, doc), defaults)
	for tenant, want := range map[string][]string{
		"acme":     {"https://app.acme.example"},
		"closed":   {},
		"plain":    {"https://default.example"},
		"unlisted": {"https://default.example"},
		"":         {"https://default.example"},
	} {
		if got := s.Get(tenant).EmbedOrigins; !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("Get(%q).EmbedOrigins = %#v, want %#v", tenant, got, want)
		}
	}
	themed := open(t, file(t, `{"tenants": {"acme": {"widget": {"scheme": "dark", "accent": "#ffd24a", "radius": 0, "font": "\"IBM Plex Sans\", Noto Sans JP, sans-serif", "locale": "ar-EG"}}, "round": {"widget": {"radius": 24}}}}`), defaults)
	zero, max := 0, 24
	if got, want := themed.Get("acme").Widget, (tenants.Theme{Scheme: "dark", Accent: "#ffd24a", Radius: &zero, Font: `"IBM Plex Sans", Noto Sans JP, sans-serif`, Locale: "ar-EG"}); got.Key() != want.Key() {
		t.Errorf("acme's widget = %+v, want %+v (a light accent is taken: the widget writes black on it)", got, want)
	}
	if got := themed.Get("round").Widget; got.Radius == nil || *got.Radius != max {
		t.Errorf("round's widget = %+v, want radius 24", got)
	}
	if got := themed.Get("other").Widget; got.Key() != (tenants.Theme{}).Key() {
		t.Errorf("an unlisted tenant's widget = %+v, want the widget's own defaults", got)
	}
	// A radius of 0 is a choice (square corners), not the default.
	if (tenants.Theme{Radius: &zero}).Key() == (tenants.Theme{}).Key() {
		t.Error("a radius of 0 keys as no radius")
	}
	for tenant, want := range map[string]int{"acme": 3, "plain": 20, "unlisted": 20} {
		if got := s.Get(tenant).MaxRepliesInFlight; got != want {
			t.Errorf("Get(%q).MaxRepliesInFlight = %d, want %d", tenant, got, want)
		}
	}
	if none := open(t, "", defaults); !slices.Equal(none.Get("acme").EmbedOrigins, []string{"https://default.example"}) {
		t.Error("without WIDGET_TENANTS a tenant does not get the defaults")
	}
}

// TestParseStrict: what an operator can get wrong is refused with the
// place it is wrong, not silently ignored.
func TestParseStrict(t *testing.T) {
	for name, bad := range map[string]string{
		"not JSON":              `{"tenants":`,
		"no tenants":            `{}`,
		"unknown top member":    `{"tenants": {}, "tenant": {}}`,
		"repeated tenant":       `{"tenants": {"acme": {}, "acme": {}}}`,
		"unknown member":        `{"tenants": {"acme": {"embedOrigin": []}}}`,
		"origins not a list":    `{"tenants": {"acme": {"embedOrigins": "https://a.example"}}}`,
		"origins null":          `{"tenants": {"acme": {"embedOrigins": null}}}`,
		"origin with a path":    `{"tenants": {"acme": {"embedOrigins": ["https://a.example/"]}}}`,
		"origin upper case":     `{"tenants": {"acme": {"embedOrigins": ["https://A.example"]}}}`,
		"remote http origin":    `{"tenants": {"acme": {"embedOrigins": ["http://a.example"]}}}`,
		"tenant id with space":  `{"tenants": {"ac me": {}}}`,
		"tenant id dot":         `{"tenants": {"..": {}}}`,
		"trailing data":         `{"tenants": {}} {}`,
		"invalid UTF-8":         "{\"tenants\": {\"\xff\": {}}}",
		"replies zero":          `{"tenants": {"acme": {"maxRepliesInFlight": 0}}}`,
		"replies a string":      `{"tenants": {"acme": {"maxRepliesInFlight": "5"}}}`,
		"replies a fraction":    `{"tenants": {"acme": {"maxRepliesInFlight": 2.5}}}`,
		"budget zero":           `{"tenants": {"acme": {"modelTokensPerDay": 0}}}`,
		"budget negative":       `{"tenants": {"acme": {"modelTokensPerDay": -5}}}`,
		"widget unknown member": `{"tenants": {"acme": {"widget": {"fonts": "serif"}}}}`,
		"widget radius big":     `{"tenants": {"acme": {"widget": {"radius": 25}}}}`,
		"widget radius neg":     `{"tenants": {"acme": {"widget": {"radius": -1}}}}`,
		"widget radius px":      `{"tenants": {"acme": {"widget": {"radius": "8px"}}}}`,
		"widget radius frac":    `{"tenants": {"acme": {"widget": {"radius": 2.5}}}}`,
		"widget font css":       `{"tenants": {"acme": {"widget": {"font": "serif; background: url(https://x.example/)"}}}}`,
		"widget font braces":    `{"tenants": {"acme": {"widget": {"font": "a}b{"}}}}`,
		"widget font empty":     `{"tenants": {"acme": {"widget": {"font": ""}}}}`,
		"widget locale form":    `{"tenants": {"acme": {"widget": {"locale": "en_US"}}}}`,
		"widget locale unknown": `{"tenants": {"acme": {"widget": {"locale": "pt-BR"}}}}`,
		"widget scheme":         `{"tenants": {"acme": {"widget": {"scheme": "sepia"}}}}`,
		"widget accent form":    `{"tenants": {"acme": {"widget": {"accent": "blue"}}}}`,
		"widget accent number":  `{"tenants": {"acme": {"widget": {"accent": 255}}}}`,
	} {
		if _, err := tenants.Parse([]byte(bad), true); err == nil {
			t.Errorf("%s: accepted %s", name, bad)
		}
	}
	if _, err := tenants.Parse([]byte(`{"tenants": {"acme": {"embedOrigins": ["http://localhost:3000"]}}}`), false); err == nil {
		t.Error("live accepted an http://localhost origin")
	}
	if _, err := tenants.Parse([]byte(`{"tenants": {"acme": {"embedOrigins": ["http://localhost:3000"]}}}`), true); err != nil {
		t.Errorf("outside live an http://localhost origin is refused: %v", err)
	}
}

// TestReloadKeepsLastGood: a changed document is taken; one that does not
// read is refused, said once, and the last good one kept; a missing file
// likewise.
func TestReloadKeepsLastGood(t *testing.T) {
	path := file(t, doc)
	var mu sync.Mutex
	var said []error
	opts := defaults
	opts.OnReload = func(err error) { mu.Lock(); said = append(said, err); mu.Unlock() }
	s := open(t, path, opts)
	ctx := context.Background()

	s.Reload(ctx) // unchanged: nothing to say
	write(t, path, `{"tenants": {"acme": {"embedOrigins": ["https://new.acme.example"]}}}`)
	s.Reload(ctx)
	if got := s.Get("acme").EmbedOrigins; !slices.Equal(got, []string{"https://new.acme.example"}) {
		t.Fatalf("after a good change: %v", got)
	}
	write(t, path, `{"tenants": {"acme": {"embedOrigins": ["nope"]}}}`)
	s.Reload(ctx)
	s.Reload(ctx) // the same refused document: said once
	if got := s.Get("acme").EmbedOrigins; !slices.Equal(got, []string{"https://new.acme.example"}) {
		t.Fatalf("a refused document replaced the last good one: %v", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s.Reload(ctx)
	if got := s.Get("acme").EmbedOrigins; !slices.Equal(got, []string{"https://new.acme.example"}) {
		t.Fatalf("a missing file replaced the last good document: %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(said) != 3 || said[0] != nil || said[1] == nil || !errors.Is(said[2], os.ErrNotExist) {
		t.Errorf("OnReload told %v, want nil, the refusal, then the missing file", said)
	}
}

// TestOpenRefuses: a source that does not read at start is an error: the
// service does not start on settings it cannot know.
func TestOpenRefuses(t *testing.T) {
	for name, spec := range map[string]string{
		"missing file": filepath.Join(t.TempDir(), "none.json"),
		"bad document": file(t, `{"tenants": {"acme": {"embedOrigins": ["nope"]}}}`),
		"bad URL":      "https://",
	} {
		if _, err := tenants.Open(context.Background(), spec, defaults); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

// TestHTTPSource: the document from a URL, with the bearer token, no
// redirect followed, and a non-200 refused (the last good one kept).
func TestHTTPSource(t *testing.T) {
	var mu sync.Mutex
	status, body, auth := http.StatusOK, doc, ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		auth = r.Header.Get("Authorization")
		if status == http.StatusFound {
			http.Redirect(w, r, "/elsewhere", status)
			return
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	set := func(s int, b string) { mu.Lock(); status, body = s, b; mu.Unlock() }

	opts := defaults
	opts.Token = "s3cret"
	var refused []error
	opts.OnReload = func(err error) {
		if err != nil {
			refused = append(refused, err)
		}
	}
	s := open(t, srv.URL+"/tenants.json", opts)
	if got := s.Get("acme").EmbedOrigins; !slices.Equal(got, []string{"https://app.acme.example"}) {
		t.Fatalf("from the URL: %v", got)
	}
	mu.Lock()
	if auth != "Bearer s3cret" {
		t.Errorf("Authorization = %q", auth)
	}
	mu.Unlock()
	for _, st := range []int{http.StatusInternalServerError, http.StatusFound} {
		set(st, `{"tenants": {}}`)
		s.Reload(context.Background())
		if got := s.Get("acme").EmbedOrigins; !slices.Equal(got, []string{"https://app.acme.example"}) {
			t.Fatalf("after a %d: %v", st, got)
		}
	}
	if len(refused) != 2 {
		t.Fatalf("refusals told: %v", refused)
	}
	for _, err := range refused {
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), srv.URL) {
			t.Errorf("an error names the token or the URL: %v", err)
		}
	}
	set(http.StatusOK, `{"tenants": {}}`)
	s.Reload(context.Background())
	if got := s.Get("acme").EmbedOrigins; !slices.Equal(got, []string{"https://default.example"}) {
		t.Fatalf("after acme left the document: %v", got)
	}
}

func open(t *testing.T, spec string, opts tenants.Options) *tenants.Store {
	t.Helper()
	s, err := tenants.Open(context.Background(), spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func file(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenants.json")
	write(t, path, body)
	return path
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
