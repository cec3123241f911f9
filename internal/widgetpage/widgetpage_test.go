package widgetpage_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/widgetpage"
)

// TestNewRefusesWhatIsNotAnOrigin: an allow-list entry goes into a CSP
// directive and an HTML attribute, so nothing but scheme://host[:port] may
// get there, whatever the configuration let through.
func TestNewRefusesWhatIsNotAnOrigin(t *testing.T) {
	for _, o := range []string{
		"", "*", "'self'", "https://a.example; script-src *", "https://a.example/", `https://a.example"><script>`,
		"https://A.example", "javascript:alert(1)", "https://a.example https://b.example",
	} {
		if _, err := widgetpage.New([]string{o}); !errors.Is(err, widgetpage.ErrOrigin) {
			t.Errorf("New(%q) = %v, want ErrOrigin", o, err)
		}
	}
}

func TestCSP(t *testing.T) {
	for _, tt := range []struct {
		origins []string
		suffix  string
	}{
		{nil, "; frame-ancestors 'none'"},
		{[]string{"https://a.example", "http://localhost:8080"}, "; frame-ancestors https://a.example http://localhost:8080"},
	} {
		w, err := widgetpage.New(tt.origins)
		if err != nil {
			t.Fatal(err)
		}
		csp := w.CSP()
		if !strings.HasPrefix(csp, "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';") ||
			!strings.HasSuffix(csp, tt.suffix) || strings.Contains(csp, "unsafe") {
			t.Errorf("CSP(%v) = %q", tt.origins, csp)
		}
	}
}
