//go:build browser

package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/causeflow/widget-sessions/internal/widgetpage"
)

// TestBrowserLocales: in a Chromium whose language is Japanese, the widget
// mounted without a locale speaks Japanese, and the user's question
// reaches the model with it; mounted with each of its six locales, it
// speaks that one (Arabic right to left), its page says so (lang, dir),
// and axe-core finds no violation. A screenshot per locale goes to
// artifacts/widget-chromium-<locale>.png.
func TestBrowserLocales(t *testing.T) {
	strs, err := widgetpage.Strings()
	if err != nil {
		t.Fatal(err)
	}
	model := &fakeModel{chunks: []string{"了解しました。"}}
	upstream := httptest.NewServer(model)
	t.Cleanup(upstream.Close)
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host,
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model"})
	proxy := newCutProxy(t, s.public) // closes the browser's sockets before the server stops
	caller := devToken(t, s, "demo", "user_alice", "admin")
	ctx := startChromium(t, 2*time.Minute, chromedp.Flag("lang", "ja"), chromedp.Flag("accept-lang", "ja-JP,ja"))

	for _, locale := range []string{"", "en", "de", "fr", "es", "ja", "ar"} {
		want, shot := locale, locale
		if locale == "" {
			want, shot = "ja", "browser-ja"
		}
		m := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
		widgetURL := proxy.URL() + "/embed?session=" + m.SessionID
		*data = hostPageData{SDK: proxy.URL() + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL, Locale: locale}
		if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
			t.Fatalf("%s: opening the host page: %v", shot, err)
		}
		frame := frameContext(t, ctx, widgetURL)
		evalUntil(t, frame, 15*time.Second, shot+": the input enabled", `String(!document.getElementById("cf-input").disabled)`,
			func(v string) bool { return v == "true" })
		dir := "ltr"
		if want == "ar" {
			dir = "rtl"
		}
		page, _ := chromedp.Run(frame, chromedp.Evaluate[string](`[document.documentElement.lang, document.documentElement.dir, document.getElementById("cf-send").textContent, document.getElementById("cf-input").placeholder, document.getElementById("cf-messages").getAttribute("aria-label"), document.title].join("|")`))
		if w := strings.Join([]string{want, dir, strs[want]["send"], strs[want]["placeholder"], strs[want]["conversation"], strs[want]["brand"]}, "|"); page != w {
			t.Errorf("%s: lang|dir|Send|placeholder|transcript|title = %q, want %q", shot, page, w)
		}
		if locale == "" {
			// The question carries the browser's language to the model.
			if _, err := chromedp.Run(frame, chromedp.Evaluate[string](`(function () { var i = document.getElementById("cf-input"); i.value = "原因は？"; document.getElementById("cf-send").click(); return "sent"; })()`)); err != nil {
				t.Fatal(err)
			}
			evalUntil(t, frame, 15*time.Second, "the answer", `(function (e) { return e && !e.classList.contains("streaming") ? "done" : "" })(document.querySelector(".msg.assistant"))`,
				func(v string) bool { return v == "done" })
			// The one-chunk answer may end before the question's 202
			// reaches the widget: Stop must not stay up for it, and the
			// answer is still announced.
			evalUntil(t, frame, 5*time.Second, "Stop hidden, the answer announced", `document.getElementById("cf-stop").hidden + "|" + document.getElementById("cf-announce").textContent`,
				func(v string) bool { return v == "true|回答: 了解しました。" })
			model.mu.Lock()
			got := fmt.Sprint(model.requests)
			model.mu.Unlock()
			if !strings.Contains(got, `The user reads Japanese (BCP 47 tag "ja`) {
				t.Errorf("the model was not asked to answer in the browser's Japanese: %s", got)
			}
		}
		if vs := axeScan(t, frame); len(vs) > 0 {
			t.Errorf("%s: axe-core: %d WCAG 2.1 A/AA violations:%s", shot, len(vs), describeViolations(vs))
		}
		png, err := chromedp.Run(ctx, screenshotOf("body"))
		if err != nil {
			t.Fatal(err)
		}
		writeArtifact(t, "widget-chromium-"+shot+".png", png)
	}
}
