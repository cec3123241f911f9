// Package tenants holds each tenant's own settings (WIDGET_TENANTS): the
// host origins that may embed its sessions' widget, for now; its quotas and
// budgets as they are enforced. The settings come from a JSON document, a
// file the operator mounts or an https URL the operator's service answers,
// read strictly (the user directory's rules: unknown or repeated members,
// ids the API could never name, and anything after the document are
// errors) and re-read every interval. A document that does not read is
// refused and the last good one kept; at start there is none to keep, and
// the service refuses to start.
//
// The document:
//
//	{"tenants": {"acme": {"embedOrigins": ["https://app.acme.com"], "maxRepliesInFlight": 5}}}
//
// A tenant the document does not list gets the deployment's defaults
// (WIDGET_EMBED_ORIGINS, WIDGET_MAX_REPLIES_PER_TENANT). A listed tenant's
// settings replace them, an "embedOrigins" of [] included: a tenant may
// allow no page at all.
package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/internal/locale"
	"github.com/causeflow/widget-sessions/internal/lookup"
	"github.com/causeflow/widget-sessions/internal/strictjson"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Settings are one tenant's settings, defaults applied.
type Settings struct {
	// EmbedOrigins are the host pages (scheme://host[:port]) that may frame
	// the widget of the tenant's sessions and hand it their tokens.
	EmbedOrigins []string
	// MaxRepliesInFlight bounds the assistant replies the tenant's sessions
	// have running at once on one replica.
	MaxRepliesInFlight int
	// ModelTokensPerDay is the tenant's model budget per UTC day; 0: none.
	ModelTokensPerDay int64
	// MaxStoredSessions and MaxStoredBytes cap the tenant's live session
	// logs and their bytes; 0: none.
	MaxStoredSessions int
	MaxStoredBytes    int64
	// Widget is the look the tenant's widget takes unless the host page's
	// mount says otherwise.
	Widget Theme
}

// Theme is a widget's defaults: its colour scheme ("light", "dark",
// "auto": following prefers-color-scheme), accent colour (#rrggbb; the
// widget writes on it in white or black, whichever is readable), corner
// radius (0 to MaxRadius pixels), font family (a CSS font-family list of
// fonts installed on the user's machine) and language (a BCP 47 tag whose
// language the widget speaks: used when the browser's languages are none
// it speaks). Empty or nil: the widget's own default. widgetpage writes it
// into the page as this JSON.
type Theme struct {
	Scheme string `json:"scheme,omitempty"`
	Accent string `json:"accent,omitempty"`
	Radius *int   `json:"radius,omitempty"`
	Font   string `json:"font,omitempty"`
	Locale string `json:"locale,omitempty"`
}

// MaxRadius bounds a widget's corner radius, in CSS pixels.
const MaxRadius = 24

// IsZero reports whether the theme says nothing: the widget's own look.
func (t Theme) IsZero() bool {
	return t.Scheme == "" && t.Accent == "" && t.Radius == nil && t.Font == "" && t.Locale == ""
}

// Key is the theme as a string that tells any two themes apart: a page
// cache's key.
func (t Theme) Key() string {
	r := "-"
	if t.Radius != nil {
		r = strconv.Itoa(*t.Radius)
	}
	return t.Scheme + "\x00" + t.Accent + "\x00" + r + "\x00" + t.Font + "\x00" + t.Locale
}

// Document is a parsed tenants document. It never changes once parsed.
type Document struct {
	tenants map[string]Settings
}

// CheckOrigin accepts a web origin as browsers write it (event.origin, CSP
// frame-ancestors): https://host[:port], lower case, nothing after it. The
// widget trusts a postMessage from exactly these strings, so a near miss
// (a trailing slash, a path) is refused here rather than silently never
// matching. A development machine's own http://localhost or
// http://127.0.0.1 is allowed outside live (loopbackHTTP). The one rule of
// WIDGET_EMBED_ORIGINS and of every tenant's "embedOrigins".
func CheckOrigin(o string, loopbackHTTP bool) error {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return errors.New("must be an origin: scheme://host[:port], without path, query or fragment")
	}
	if o != strings.ToLower(o) {
		return errors.New("must be lower case, as browsers write origins")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return errors.New("has an invalid port")
		}
	}
	host := u.Hostname()
	if strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return errors.New("must have a DNS name or IPv4 address as its host")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopbackHTTP && (host == "localhost" || host == "127.0.0.1"):
		return nil
	case u.Scheme == "http" && loopbackHTTP:
		return errors.New("must be https (http only for localhost and 127.0.0.1)")
	default:
		return errors.New("must be https")
	}
}

// Parse reads a tenants document strictly; loopbackHTTP admits
// http://localhost and http://127.0.0.1 embed origins (outside live).
func Parse(data []byte, loopbackHTTP bool) (*Document, error) {
	// encoding/json would replace invalid UTF-8 with U+FFFD.
	if !utf8.Valid(data) {
		return nil, errors.New("tenants: document is not valid UTF-8")
	}
	top, err := strictjson.Walk(data)
	if err != nil {
		return nil, fmt.Errorf("tenants: document: %w", err)
	}
	if err := strictjson.OnlyMembers(top, "tenants"); err != nil {
		return nil, fmt.Errorf("tenants: %w", err)
	}
	raw, ok := strictjson.MemberNamed(top, "tenants")
	if !ok {
		return nil, errors.New(`tenants: "tenants" is required`)
	}
	list, err := strictjson.Walk(raw)
	if err != nil {
		return nil, fmt.Errorf(`tenants: "tenants": %w`, err)
	}
	d := &Document{tenants: make(map[string]Settings, len(list))}
	for _, t := range list {
		if err := checkID(t.Name); err != nil {
			return nil, fmt.Errorf("tenants: tenant %q: %w", t.Name, err)
		}
		s, err := parseTenant(t.Value, loopbackHTTP)
		if err != nil {
			return nil, fmt.Errorf("tenants: tenant %q: %w", t.Name, err)
		}
		d.tenants[t.Name] = s
	}
	return d, nil
}

func parseTenant(data []byte, loopbackHTTP bool) (Settings, error) {
	ms, err := strictjson.Walk(data)
	if err != nil {
		return Settings{}, err
	}
	if err := strictjson.OnlyMembers(ms, "embedOrigins", "maxRepliesInFlight", "modelTokensPerDay", "maxStoredSessions", "maxStoredBytes", "widget"); err != nil {
		return Settings{}, err
	}
	var s Settings
	if raw, ok := strictjson.MemberNamed(ms, "widget"); ok {
		w, err := parseTheme(raw)
		if err != nil {
			return Settings{}, fmt.Errorf(`"widget": %w`, err)
		}
		s.Widget = w
	}
	for _, f := range []struct {
		name string
		max  int64
		set  func(int64)
	}{
		{"maxRepliesInFlight", 1_000_000, func(n int64) { s.MaxRepliesInFlight = int(n) }},
		{"modelTokensPerDay", math.MaxInt64, func(n int64) { s.ModelTokensPerDay = n }},
		{"maxStoredSessions", math.MaxInt32, func(n int64) { s.MaxStoredSessions = int(n) }},
		{"maxStoredBytes", math.MaxInt64, func(n int64) { s.MaxStoredBytes = n }},
	} {
		if raw, ok := strictjson.MemberNamed(ms, f.name); ok {
			n, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil || n < 1 || n > f.max {
				return Settings{}, fmt.Errorf("%q must be an integer from 1 to %d", f.name, f.max)
			}
			f.set(n)
		}
	}
	if raw, ok := strictjson.MemberNamed(ms, "embedOrigins"); ok {
		// Unmarshal would take null for an empty list; no page says [].
		if raw[0] != '[' || json.Unmarshal(raw, &s.EmbedOrigins) != nil {
			return Settings{}, errors.New(`"embedOrigins" must be an array of strings`)
		}
		for i, o := range s.EmbedOrigins {
			if err := CheckOrigin(o, loopbackHTTP); err != nil {
				return Settings{}, fmt.Errorf(`"embedOrigins"[%d] %q: %w`, i, o, err)
			}
		}
		if s.EmbedOrigins == nil {
			s.EmbedOrigins = []string{} // listed and empty: no page, not the defaults
		}
	}
	return s, nil
}

// accent is the form of an accent colour; font, of a font-family list
// (family names, quoted or not, and commas: nothing that could end the CSS
// value or load anything). The SDK (sdk/js/index.js) and the widget
// (widget.js) apply the same rules in JavaScript; TestThemeRulesAgree holds
// them equal.
var (
	accent = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	font   = regexp.MustCompile(`^[\p{L}\p{N} ,'"_.-]{1,200}$`)
)

// parseTheme reads a tenant's "widget" member: {"scheme", "accent",
// "radius", "font", "locale"}, each optional, checked by the rules the
// widget applies to a host's theme (sdk/js/index.js), so that a document
// the widget would ignore is refused here, with the reason, rather than
// silently dropped in every user's browser.
func parseTheme(raw []byte) (Theme, error) {
	ms, err := strictjson.Walk(raw)
	if err != nil {
		return Theme{}, err
	}
	if err := strictjson.OnlyMembers(ms, "scheme", "accent", "radius", "font", "locale"); err != nil {
		return Theme{}, err
	}
	var t Theme
	for name, dst := range map[string]*string{"scheme": &t.Scheme, "accent": &t.Accent, "font": &t.Font, "locale": &t.Locale} {
		if v, ok := strictjson.MemberNamed(ms, name); ok {
			if err := json.Unmarshal(v, dst); err != nil || v[0] != '"' || *dst == "" {
				return Theme{}, fmt.Errorf("%q must be a non-empty string", name)
			}
		}
	}
	if v, ok := strictjson.MemberNamed(ms, "radius"); ok {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 0 || n > MaxRadius {
			return Theme{}, fmt.Errorf(`"radius" must be an integer from 0 to %d (CSS pixels)`, MaxRadius)
		}
		t.Radius = &n
	}
	switch t.Scheme {
	case "", "light", "dark", "auto":
	default:
		return Theme{}, fmt.Errorf(`"scheme" must be "light", "dark" or "auto", got %q`, t.Scheme)
	}
	if t.Accent != "" && !accent.MatchString(t.Accent) {
		return Theme{}, fmt.Errorf(`"accent" must be a colour #rrggbb, got %q`, t.Accent)
	}
	if t.Font != "" && !font.MatchString(t.Font) {
		return Theme{}, fmt.Errorf(`"font" must be a CSS font-family list (family names, quoted or not, separated by commas; up to 200 characters), got %q`, t.Font)
	}
	if t.Locale != "" {
		if err := locale.Check(t.Locale); err != nil {
			return Theme{}, fmt.Errorf(`"locale" %w`, err)
		}
		if _, ok := locale.Names[locale.Primary(t.Locale)]; !ok {
			return Theme{}, fmt.Errorf(`"locale" %q: the widget speaks %s`, t.Locale, locale.List())
		}
	}
	return t, nil
}

// checkID applies the API's rules for a tenant id, so that an id that can
// never match is caught when the document is read.
func checkID(id string) error {
	var we *widget.Error
	if err := widget.ValidateID("tenant id", id); errors.As(err, &we) {
		return errors.New(we.Message)
	} else if err != nil {
		return err
	}
	return nil
}

// Len is the number of tenants the document lists.
func (d *Document) Len() int { return len(d.tenants) }

// Options configure a Store.
type Options struct {
	// Defaults are what a tenant the document does not list gets, and
	// what a listed tenant's absent settings are.
	Defaults Settings
	// LoopbackHTTP admits http://localhost and http://127.0.0.1 embed
	// origins (outside live).
	LoopbackHTTP bool
	// Token is sent as a bearer token to an https source. Never logged.
	Token string
	// Client fetches an https source; nil: a client of its own.
	Client *http.Client
	// OnReload is told of every re-read: nil error when the document
	// changed and was taken, the error when it was refused (the last good
	// one kept). A re-read that finds the same document says nothing.
	OnReload func(err error)
}

// maxDocument bounds a fetched document.
const maxDocument = 4 << 20

// Store serves the settings of the last good document. It is safe for
// concurrent use.
type Store struct {
	opts Options
	read func(ctx context.Context) ([]byte, error)
	doc  atomic.Pointer[Document]
	sum  [sha256.Size]byte // of the document last taken or refused; the loop's alone
}

// Open reads the document at spec (a file path, or an http(s):// URL) once,
// and returns a Store of it, or the reason it does not read. An empty spec
// is a Store of defaults alone.
func Open(ctx context.Context, spec string, opts Options) (*Store, error) {
	s := &Store{opts: opts}
	if spec == "" {
		s.doc.Store(&Document{})
		return s, nil
	}
	var err error
	s.read, err = lookup.Open("tenants", spec,
		func(base string) (func(context.Context) ([]byte, error), error) {
			c, err := lookup.New("tenants", base, lookup.Options{Client: opts.Client, Token: opts.Token}, 10*time.Second)
			if err != nil {
				return nil, err
			}
			return func(ctx context.Context) ([]byte, error) {
				status, body, err := c.Get(ctx, maxDocument)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("tenants: the source answered %d", status)
				}
				return body, err
			}, nil
		},
		func(path string) (func(context.Context) ([]byte, error), error) {
			return func(context.Context) ([]byte, error) {
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("tenants: %w", err)
				}
				return b, nil
			}, nil
		})
	if err != nil {
		return nil, err
	}
	body, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	d, err := Parse(body, opts.LoopbackHTTP)
	if err != nil {
		return nil, err
	}
	s.doc.Store(d)
	s.sum = sha256.Sum256(body)
	return s, nil
}

// Get returns tenant's settings: the document's, defaults filling what it
// leaves out. The slices are shared: callers only read them.
func (s *Store) Get(tenant string) Settings {
	t, ok := s.doc.Load().tenants[tenant]
	if !ok || t.EmbedOrigins == nil {
		t.EmbedOrigins = s.opts.Defaults.EmbedOrigins
	}
	if t.MaxRepliesInFlight == 0 {
		t.MaxRepliesInFlight = s.opts.Defaults.MaxRepliesInFlight
	}
	if t.ModelTokensPerDay == 0 {
		t.ModelTokensPerDay = s.opts.Defaults.ModelTokensPerDay
	}
	if t.MaxStoredSessions == 0 {
		t.MaxStoredSessions = s.opts.Defaults.MaxStoredSessions
	}
	if t.MaxStoredBytes == 0 {
		t.MaxStoredBytes = s.opts.Defaults.MaxStoredBytes
	}
	if t.Widget.IsZero() {
		t.Widget = s.opts.Defaults.Widget
	}
	return t
}

// Document returns the document in use.
func (s *Store) Document() *Document { return s.doc.Load() }

// Reload reads the document again, and takes it if it changed and reads;
// otherwise the last good one stays. It reports through Options.OnReload.
func (s *Store) Reload(ctx context.Context) {
	if s.read == nil {
		return
	}
	body, err := s.read(ctx)
	var sum [sha256.Size]byte
	if err == nil {
		if sum = sha256.Sum256(body); sum == s.sum {
			return // unchanged, or refused already: said once
		}
		var d *Document
		if d, err = Parse(body, s.opts.LoopbackHTTP); err == nil {
			s.doc.Store(d)
		}
		s.sum = sum
	}
	if s.opts.OnReload != nil {
		s.opts.OnReload(err)
	}
}

// Run re-reads the document every interval until ctx ends.
func (s *Store) Run(ctx context.Context, interval time.Duration) {
	if s.read == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Reload(ctx)
		}
	}
}
