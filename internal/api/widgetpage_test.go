package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// withEmbedOrigins sets the host origins allowed to frame the widget.
func withEmbedOrigins(origins ...string) fixtureOption {
	return func(c *fixtureConfig) { c.origins = origins }
}

// validSession is a well-formed session id; the page does not need a live one.
const validSession = "wsess_3MWsidffHemm1Kt9ylwjjZUMOQv"

var (
	scriptTag   = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	inlineEvent = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	originsMeta = regexp.MustCompile(`<meta name="causeflow-origins" content="([^"]*)">`)
)

// TestEmbedPage: the page's security headers fit an iframe, its CSP
// frame-ancestors is the allow-list (or 'none'), the allow-list reaches the
// page as data, and there is no inline script the CSP would have to allow.
func TestEmbedPage(t *testing.T) {
	s := loadSpec(t)
	const baseCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors "
	for _, tt := range []struct {
		name      string
		origins   []string
		ancestors string
		meta      string
	}{
		{"no origins", nil, "'none'", ""},
		{"one origin", []string{"https://app.customer.com"}, "https://app.customer.com", "https://app.customer.com"},
		{"several origins", []string{"https://app.customer.com", "http://localhost:3000"},
			"https://app.customer.com http://localhost:3000", "https://app.customer.com http://localhost:3000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, withEmbedOrigins(tt.origins...))
			resp := f.get(t, "/embed?session="+validSession)
			if resp.Status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			for name, want := range map[string]string{
				"Content-Type":            "text/html; charset=utf-8",
				"Content-Security-Policy": baseCSP + tt.ancestors,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           "no-store",
				"X-Frame-Options":         "", // CSP frame-ancestors governs: XFO cannot list origins
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			page := string(resp.Body)
			m := originsMeta.FindStringSubmatch(page)
			if m == nil || m[1] != tt.meta {
				t.Errorf("causeflow-origins meta = %v, want content %q", m, tt.meta)
			}
			scripts := scriptTag.FindAllStringSubmatch(page, -1)
			if len(scripts) == 0 {
				t.Fatal("the page loads no script")
			}
			for _, sc := range scripts {
				if !(strings.Contains(sc[1], `src="/embed/widget.js"`) || strings.Contains(sc[1], `src="/embed/i18n.js"`)) || strings.TrimSpace(sc[2]) != "" {
					t.Errorf("inline or foreign script: %s", sc[0])
				}
			}
			if inlineEvent.MatchString(page) || strings.Contains(page, "style=") || strings.Contains(page, "javascript:") {
				t.Error("the page has an inline handler or style the CSP forbids")
			}
			if strings.Contains(page, "http://") && tt.meta == "" || strings.Contains(page, "//cdn") {
				t.Error("the page refers to an external resource")
			}
			checkTextResponse(t, s, "/embed", "text/html", resp)
		})
	}

	t.Run("session parameter", func(t *testing.T) {
		f := newFixture(t, withEmbedOrigins("https://app.customer.com"))
		for _, q := range []string{"", "?session=", "?session=wsess_nope", "?session=" + validSession + "&token=x",
			"?session=" + validSession + "&session=" + validSession} {
			resp := f.get(t, "/embed"+q)
			checkError(t, resp, http.StatusBadRequest, "validation_error")
			// No host may frame an error.
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'none'") {
				t.Errorf("/embed%s: CSP %q", q, csp)
			}
			s.checkResponse(t, publicServer, http.MethodGet, "/embed"+q, resp)
		}
	})
}

// withTenants gives the edge a WIDGET_TENANTS document.
func withTenants(doc string) fixtureOption {
	return func(c *fixtureConfig) { c.tenants = doc }
}

// TestEmbedPagePerTenant: /embed?tenant= frames for that tenant's host
// pages alone (its "embedOrigins" in WIDGET_TENANTS), an unlisted tenant
// or no tenant for the deployment's, a tenant listed with [] for none; and
// a tenant parameter that cannot be a tenant id is refused.
func TestEmbedPagePerTenant(t *testing.T) {
	f := newFixture(t, withEmbedOrigins("https://default.example"), withTenants(`{"tenants": {
		"acme": {"embedOrigins": ["https://app.acme.example", "http://localhost:3000"], "widget": {"scheme": "dark", "accent": "#1f5fbf"}},
		"closed": {"embedOrigins": []},
		"plain": {}
	}}`))
	for _, tt := range []struct{ query, ancestors string }{
		{"", "https://default.example"},
		{"&tenant=acme", "https://app.acme.example http://localhost:3000"},
		{"&tenant=closed", "'none'"},
		{"&tenant=plain", "https://default.example"},
		{"&tenant=unlisted", "https://default.example"},
		{"&tenant=acme&locale=ar", "https://app.acme.example http://localhost:3000"},
		{"&locale=pt-BR", "https://default.example"},
	} {
		resp := f.get(t, "/embed?session="+validSession+tt.query)
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", tt.query, resp.Status, resp.Body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors "+tt.ancestors) {
			t.Errorf("%s: CSP %q, want frame-ancestors %s", tt.query, csp, tt.ancestors)
		}
		want := strings.ReplaceAll(tt.ancestors, "'none'", "")
		if m := originsMeta.FindStringSubmatch(string(resp.Body)); m == nil || m[1] != want {
			t.Errorf("%s: causeflow-origins meta = %v, want %q", tt.query, m, want)
		}
		// acme's look reaches its page alone.
		themed := strings.Contains(string(resp.Body), `&#34;accent&#34;:&#34;#1f5fbf&#34;`)
		if themed != strings.HasPrefix(tt.query, "&tenant=acme") {
			t.Errorf("%s: the page carries acme's theme: %v", tt.query, themed)
		}
	}
	for _, q := range []string{"&tenant=", "&tenant=..", "&tenant=a%20b", "&tenant=acme&tenant=acme",
		"&locale=", "&locale=en_US", "&locale=%3Cscript%3E", "&locale=" + strings.Repeat("a-", 20) + "b"} {
		resp := f.get(t, "/embed?session="+validSession+q)
		checkError(t, resp, http.StatusBadRequest, "validation_error")
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", q, csp)
		}
	}
}

// TestEmbedAssets: the script, style sheet and SDK are served from the
// binary, with their content types, nosniff, a cache lifetime and an ETag
// that answers 304.
func TestEmbedAssets(t *testing.T) {
	s := loadSpec(t)
	f := newFixture(t)
	for _, tt := range []struct {
		path, contentType, contains string
	}{
		{"/embed/widget.js", "text/javascript; charset=utf-8", `"causeflow:ready"`},
		{"/embed/i18n.js", "text/javascript; charset=utf-8", `"feedbackGroup"`},
		{"/embed/widget.css", "text/css; charset=utf-8", ".msg.assistant"},
		{"/sdk.js", "text/javascript; charset=utf-8", "CauseFlowWidget"},
		{"/sdk.d.ts", "application/typescript; charset=utf-8", "getSessionToken?: (currentToken: string) => string | Promise<string>;"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp := f.get(t, tt.path)
			if resp.Status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.contentType {
				t.Errorf("Content-Type %q, want %q", ct, tt.contentType)
			}
			if h := resp.Header.Get("X-Content-Type-Options"); h != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", h)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control %q", cc)
			}
			if !strings.Contains(string(resp.Body), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			checkTextResponse(t, s, tt.path, strings.Split(tt.contentType, ";")[0], resp)

			etag := resp.Header.Get("ETag")
			req, _ := http.NewRequest(http.MethodGet, f.URL+tt.path, nil)
			req.Header.Set("If-None-Match", etag)
			r := f.do(t, req)
			if etag == "" || r.Status != http.StatusNotModified || len(r.Body) != 0 {
				t.Fatalf("If-None-Match %s: status %d, want 304", etag, r.Status)
			}
			s.checkResponse(t, publicServer, http.MethodGet, tt.path, r)
		})
	}
	t.Run("sdk posts the token to the widget's exact origin only", func(t *testing.T) {
		body := string(f.get(t, "/sdk.js").Body)
		for _, want := range []string{"ev.source !== iframe.contentWindow", "ev.origin !== origin", `sessionToken: tok, theme: theme }, origin)`} {
			if !strings.Contains(body, want) {
				t.Errorf("sdk.js lacks %q", want)
			}
		}
		if strings.Contains(body, `"*"`) {
			t.Error(`sdk.js posts with targetOrigin "*"`)
		}
	})
}

// checkTextResponse checks a 200 the spec's validator cannot read (HTML,
// JavaScript, CSS) by hand: the operation declares its media type, and
// every header it declares conforms.
func checkTextResponse(t *testing.T, s spec, path, mediaType string, resp response) {
	t.Helper()
	op := s.doc.Paths.Value(path).Get
	r := op.Responses.Status(http.StatusOK).Value
	if r.Content.Get(mediaType) == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), mediaType) {
		t.Errorf("%s: Content-Type %q, want the spec's %s", path, resp.Header.Get("Content-Type"), mediaType)
	}
	for name, h := range r.Headers {
		if err := h.Value.Schema.Value.VisitJSON(resp.Header.Get(name)); err != nil {
			t.Errorf("%s: header %s = %q does not conform: %v", path, name, resp.Header.Get(name), err)
		}
	}
}
