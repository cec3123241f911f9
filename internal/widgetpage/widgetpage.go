// Package widgetpage is the widget a customer's page embeds: the chat panel
// served at /embed inside an iframe, its script and style, and the SDK
// (/sdk.js) that creates the iframe and hands it the session token. Every
// asset is built into the binary.
//
// The page takes its session token only from a postMessage of a host page
// whose origin is on the allow-list; the same list is the page's CSP
// frame-ancestors, so a page on any other origin cannot even frame it. The
// list is the session's tenant's (WIDGET_TENANTS), or the deployment's.
package widgetpage

//go:generate go run ./sdkgen

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/causeflow/widget-sessions/internal/tenants"
)

//go:embed assets
var assets embed.FS

// Content types of the assets.
const (
	typeHTML = "text/html; charset=utf-8"
	typeJS   = "text/javascript; charset=utf-8"
	typeCSS  = "text/css; charset=utf-8"
	// typeTS is what the TypeScript compiler's own files are served as.
	typeTS = "application/typescript; charset=utf-8"
)

// assetCache lets browsers and CDNs keep the static assets a little while;
// the ETag makes a revalidation cheap. The URLs carry no version, so a
// deploy reaches every browser within five minutes.
const assetCache = "public, max-age=300"

// origin is what the allow-list may hold: a scheme and host with an
// optional port, nothing that could break out of a CSP directive or an
// HTML attribute. The configuration checks the finer rules (https in live).
var origin = regexp.MustCompile(`^https?://[a-z0-9.-]+(:[0-9]{1,5})?$`)

// ErrOrigin is returned by Page for an allow-list entry that is not an
// origin.
var ErrOrigin = errors.New("embed: not an origin (scheme://host[:port], lower case)")

// Widget serves the embeddable widget: one page per allow-list of host
// origins (each tenant's, or the deployment's), and the assets they share.
type Widget struct {
	tmpl  *template.Template
	files map[string]file

	mu    sync.Mutex
	pages map[string]*Page // by allow-list, space-joined
}

// Page is the chat panel for one allow-list of host origins.
type Page struct {
	origins []string
	body    []byte
	csp     string
}

// file is a static asset with its validator.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// maxPages bounds the rendered pages kept; past it, the cache starts over.
// A page is a few kilobytes and rendering one costs microseconds.
const maxPages = 4096

// New returns the widget.
func New() (*Widget, error) {
	tmpl, err := template.ParseFS(assets, "assets/embed.html")
	if err != nil {
		return nil, err
	}
	w := &Widget{tmpl: tmpl, files: map[string]file{}, pages: map[string]*Page{}}
	for name, ct := range map[string]string{"widget.js": typeJS, "i18n.js": typeJS, "widget.css": typeCSS, "sdk.js": typeJS, "sdk.d.ts": typeTS} {
		body, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(body)
		w.files[name] = file{body: body, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
	}
	return w, nil
}

// Page returns the chat panel that the host pages of origins may frame
// and hand a session token, starting with theme (a tenant's widget
// defaults, written into the page as JSON data, before the host page's own
// theme). An empty list is valid: no page may frame it.
func (w *Widget) Page(origins []string, theme tenants.Theme) (*Page, error) {
	key := strings.Join(origins, " ") + "\x00" + theme.Key()
	w.mu.Lock()
	p, ok := w.pages[key]
	w.mu.Unlock()
	if ok {
		return p, nil
	}
	for _, o := range origins {
		if !origin.MatchString(o) {
			return nil, fmt.Errorf("%w: %q", ErrOrigin, o)
		}
	}
	themeJSON, err := json.Marshal(theme)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := w.tmpl.Execute(&page, struct{ Origins, Theme string }{strings.Join(origins, " "), string(themeJSON)}); err != nil {
		return nil, err
	}
	p = &Page{origins: append([]string(nil), origins...), body: page.Bytes(), csp: csp(origins)}
	w.mu.Lock()
	if len(w.pages) >= maxPages {
		clear(w.pages)
	}
	w.pages[key] = p
	w.mu.Unlock()
	return p, nil
}

// csp is the page's Content-Security-Policy for an allow-list.
func csp(origins []string) string {
	ancestors := "'none'"
	if len(origins) > 0 {
		ancestors = strings.Join(origins, " ")
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors " + ancestors
}

// Origins returns the host origins allowed to embed the page.
func (p *Page) Origins() []string { return append([]string(nil), p.origins...) }

// CSP returns the page's Content-Security-Policy.
func (p *Page) CSP() string { return p.csp }

// SetPageHeaders sets the security headers of p, or (p nil) of a page no
// host may frame: an answer on /embed carries them before anything else is
// decided, errors included, and p's once it is. There is no
// X-Frame-Options: it cannot name several origins, and CSP frame-ancestors,
// which browsers prefer anyway, governs framing.
func SetPageHeaders(h http.Header, p *Page) {
	policy := csp(nil)
	if p != nil {
		policy = p.csp
	}
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// Serve writes the chat panel. The caller has checked the request and
// called SetPageHeaders with p.
func (p *Page) Serve(rw http.ResponseWriter) {
	rw.Header().Set("Content-Type", typeHTML)
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(p.body) // nothing to do about a client gone away
}

// Script serves /embed/widget.js.
func (w *Widget) Script() http.Handler { return w.files["widget.js"] }

// Strings serves /embed/i18n.js: the widget's strings in each language.
func (w *Widget) Strings() http.Handler { return w.files["i18n.js"] }

// Strings returns the widget's strings as /embed/i18n.js holds them: by
// language (its primary subtag), then by key. It is for tests and tools
// that check what the widget says.
func Strings() (map[string]map[string]string, error) {
	src, err := assets.ReadFile("assets/i18n.js")
	if err != nil {
		return nil, err
	}
	_, obj, ok := strings.Cut(string(src), "window.CauseFlowStrings = ")
	if !ok {
		return nil, errors.New("i18n.js does not assign window.CauseFlowStrings")
	}
	var all map[string]map[string]string
	dec := json.NewDecoder(strings.NewReader(strings.TrimSuffix(strings.TrimSpace(obj), ";")))
	if err := dec.Decode(&all); err != nil {
		return nil, fmt.Errorf("i18n.js: %w", err)
	}
	if dec.More() {
		return nil, errors.New("i18n.js: more than one JSON document")
	}
	return all, nil
}

// Style serves /embed/widget.css.
func (w *Widget) Style() http.Handler { return w.files["widget.css"] }

// SDK serves /sdk.js. It is loaded by customers' pages, on other origins:
// Cross-Origin-Resource-Policy says so explicitly, for hosts that require
// it (COEP).
func (w *Widget) SDK() http.Handler {
	f := w.files["sdk.js"]
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		f.ServeHTTP(rw, r)
	})
}

// SDKTypes serves /sdk.d.ts: the SDK's TypeScript declarations.
func (w *Widget) SDKTypes() http.Handler {
	f := w.files["sdk.d.ts"]
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
		f.ServeHTTP(rw, r)
	})
}

// ServeHTTP serves the asset, answering 304 to a matching If-None-Match.
func (f file) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h := rw.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", assetCache)
	h.Set("ETag", f.etag)
	if match := r.Header.Get("If-None-Match"); match != "" {
		for _, tag := range strings.Split(match, ",") {
			// Weak comparison (RFC 9110 §13.1.2): a proxy may weaken the tag.
			if t := strings.TrimPrefix(strings.TrimSpace(tag), "W/"); t == f.etag || t == "*" {
				rw.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	rw.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = rw.Write(f.body)
	}
}
