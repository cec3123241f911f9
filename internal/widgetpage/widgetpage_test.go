package widgetpage_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/tenants"
	"github.com/causeflow/widget-sessions/internal/widgetpage"
)

// TestPageRefusesWhatIsNotAnOrigin: an allow-list entry goes into a CSP
// directive and an HTML attribute, so nothing but scheme://host[:port] may
// get there, whatever the configuration or a tenant's settings let through.
func TestPageRefusesWhatIsNotAnOrigin(t *testing.T) {
	w, err := widgetpage.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{
		"", "*", "'self'", "https://a.example; script-src *", "https://a.example/", `https://a.example"><script>`,
		"https://A.example", "javascript:alert(1)", "https://a.example https://b.example",
	} {
		if _, err := w.Page([]string{"https://ok.example", o}, tenants.Theme{}); !errors.Is(err, widgetpage.ErrOrigin) {
			t.Errorf("Page(%q) = %v, want ErrOrigin", o, err)
		}
	}
}

func TestCSP(t *testing.T) {
	w, err := widgetpage.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		origins []string
		suffix  string
	}{
		{nil, "; frame-ancestors 'none'"},
		{[]string{"https://a.example", "http://localhost:8080"}, "; frame-ancestors https://a.example http://localhost:8080"},
	} {
		p, err := w.Page(tt.origins, tenants.Theme{})
		if err != nil {
			t.Fatal(err)
		}
		csp := p.CSP()
		if !strings.HasPrefix(csp, "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';") ||
			!strings.HasSuffix(csp, tt.suffix) || strings.Contains(csp, "unsafe") {
			t.Errorf("CSP(%v) = %q", tt.origins, csp)
		}
	}
}

// TestPagePerAllowList: each allow-list (each tenant's) gets its own page,
// whose meta names exactly its origins, and the same list the same page.
func TestPagePerAllowList(t *testing.T) {
	w, err := widgetpage.New()
	if err != nil {
		t.Fatal(err)
	}
	a, err := w.Page([]string{"https://a.example"}, tenants.Theme{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.Page([]string{"https://b.example", "https://c.example"}, tenants.Theme{Scheme: "dark", Accent: "#1f5fbf"})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[*widgetpage.Page]string{a: "https://a.example", b: "https://b.example https://c.example"} {
		rec := httptest.NewRecorder()
		p.Serve(rec)
		if !strings.Contains(rec.Body.String(), `<meta name="causeflow-origins" content="`+want+`">`) {
			t.Errorf("the page of %v does not name exactly its origins:\n%s", p.Origins(), rec.Body)
		}
	}
	if again, _ := w.Page([]string{"https://a.example"}, tenants.Theme{}); again != a {
		t.Error("the same allow-list rendered again")
	}
	// A tenant's look reaches the page as data (JSON in an attribute,
	// escaped by html/template), which widget.js applies first.
	rec := httptest.NewRecorder()
	b.Serve(rec)
	if !strings.Contains(rec.Body.String(), `<meta name="causeflow-theme" content="{&#34;scheme&#34;:&#34;dark&#34;,&#34;accent&#34;:&#34;#1f5fbf&#34;}">`) {
		t.Errorf("the page does not carry its theme:\n%s", rec.Body)
	}
	rec = httptest.NewRecorder()
	a.Serve(rec)
	if !strings.Contains(rec.Body.String(), `<meta name="causeflow-theme" content="{}">`) {
		t.Errorf("a page without a theme:\n%s", rec.Body)
	}
}
