//go:build browser

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWidgetPerTenant: with WIDGET_TENANTS, a tenant's session is
// framed on that tenant's host pages (its widgetUrl names the tenant, and
// /embed allows that tenant's origins), in the tenant's look and, for a
// browser in a language the widget does not speak, the tenant's language;
// and a host page allowed for one tenant that frames the widget under its
// own tenant with another tenant's session gets the token refused by the
// widget: one tenant's pages never show another's session.
func TestBrowserWidgetPerTenant(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	doc := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(doc, []byte(`{"tenants": {"demo": {"embedOrigins": ["`+host+`"], "widget": {"scheme": "dark", "accent": "#1f5fbf", "radius": 6, "font": "Georgia, serif", "locale": "fr"}}, "acme": {"embedOrigins": []}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{"WIDGET_TENANTS": doc})
	demo := s.mintCreated(t, devToken(t, s, "demo", "caller_demo", "admin"), `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	acme := s.mintCreated(t, devToken(t, s, "acme", "caller_acme", "admin"), `{"userId": "user_carol"}`)
	if !strings.HasSuffix(demo.WidgetURL, "&tenant=demo") {
		t.Fatalf("widgetUrl %q does not name the tenant", demo.WidgetURL)
	}

	t.Run("its own tenant's page", func(t *testing.T) {
		widgetURL := s.public + "/embed?session=" + demo.SessionID + "&tenant=demo"
		*data = hostPageData{SDK: s.public + "/sdk.js", Token: demo.SessionToken, WidgetURL: widgetURL}
		// A browser in a language the widget does not speak: the tenant's
		// default language applies.
		ctx := startChromium(t, browserTimeout, chromedp.Flag("lang", "pt-BR"), chromedp.Flag("accept-lang", "pt-BR,pt"))
		if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
			t.Fatal(err)
		}
		evalUntil(t, ctx, 15*time.Second, "the widget ready on the host", `window.cfEvents.join(",")`,
			func(v string) bool { return strings.Contains(v, "ready") })
		frame := frameContext(t, ctx, s.public+"/embed")
		evalUntil(t, frame, 10*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`,
			func(v string) bool { return v == "true" })
		// demo's look and language (its "widget" in WIDGET_TENANTS), the
		// host page giving none of its own.
		evalUntil(t, frame, 5*time.Second, "demo's theme and language", `(function (r) { return [document.documentElement.getAttribute("data-scheme"), r.getPropertyValue("--accent").trim(), r.getPropertyValue("--radius").trim(), getComputedStyle(document.body).fontFamily, document.documentElement.lang, document.getElementById("cf-send").textContent].join("|") })(getComputedStyle(document.documentElement))`,
			func(v string) bool { return v == "dark|#1f5fbf|6px|Georgia, serif|fr|Envoyer" })
	})

	t.Run("another tenant's session under its own tenant", func(t *testing.T) {
		// The demo host frames the page as demo (allowed) with acme's session.
		widgetURL := s.public + "/embed?session=" + acme.SessionID + "&tenant=demo"
		*data = hostPageData{SDK: s.public + "/sdk.js", Token: acme.SessionToken, WidgetURL: widgetURL}
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
			t.Fatal(err)
		}
		frame := frameContext(t, ctx, s.public+"/embed")
		evalUntil(t, frame, 10*time.Second, "the token refused", `document.getElementById("cf-notice").textContent + "|" + document.getElementById("cf-input").disabled`,
			func(v string) bool { return v == "This token is for another tenant.|true" })
	})
}
