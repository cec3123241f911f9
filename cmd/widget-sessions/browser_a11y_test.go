//go:build browser

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeViolation is one rule axe-core found broken, with where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeScan runs axe-core (installed by make test-browser) in the page of
// ctx against the WCAG 2.0 and 2.1 A and AA rules, and returns what it
// finds broken. The script is evaluated over the DevTools protocol, which
// the page's Content-Security-Policy does not govern: the page itself
// never loads it.
func axeScan(t *testing.T, ctx context.Context) []axeViolation {
	t.Helper()
	return axeRun(t, func(expr string) (string, error) {
		return chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	})
}

// axeRun loads axe-core (make test-browser installs it into bin/node) into
// a page through eval, which evaluates an expression giving a string (or a
// promise of one), and returns the WCAG 2.1 A and AA violations it finds.
func axeRun(t *testing.T, eval func(expr string) (string, error)) []axeViolation {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "bin", "node", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core not installed: run `make test-browser`, which installs it (%v)", err)
	}
	if _, err := eval(`(function () { ` + string(src) + `; return typeof axe; })()`); err != nil {
		t.Fatalf("loading axe-core: %v", err)
	}
	out, err := eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(function (r) { return JSON.stringify(r.violations); })`)
	if err != nil {
		t.Fatalf("axe.run: %v", err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe result %q: %v", out, err)
	}
	return vs
}

func describeViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s (%s): %s", v.ID, v.Impact, v.Help)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    %v: %s", n.Target, strings.ReplaceAll(n.Summary, "\n", " "))
		}
	}
	return b.String()
}

// TestBrowserAccessibility: with a conversation on screen, in the light
// and the dark scheme, axe-core finds no WCAG 2.1 A or AA violation in the
// widget. The transcript is a log that stays quiet while an answer
// streams, and the completed answer is announced once. A host accent too
// light for white text is taken, with black text on it: axe-core's
// contrast check holds on it in both schemes.
func TestBrowserAccessibility(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host})
	m := s.mintCreated(t, devToken(t, s, "demo", "user_alice", "admin"), `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	widgetURL := s.public + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL,
		Theme: map[string]any{"scheme": "auto", "accent": "#ffff00"}}
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	frame := frameContext(t, ctx, widgetURL)
	evalUntil(t, frame, 15*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`,
		func(v string) bool { return v == "true" })

	if got, _ := chromedp.Run(frame, chromedp.Evaluate[string](
		`(function(l){ return l.getAttribute("role") + "|" + l.getAttribute("aria-live") + "|" + document.querySelectorAll("[aria-live]:not([aria-live=off])").length })(document.getElementById("cf-messages"))`)); got != "log|off|1" {
		t.Errorf("transcript role|aria-live|live regions = %q, want log|off|1 (only the announcer is live)", got)
	}
	if err := chromedp.Do(frame, chromedp.SetValue(chromedp.CSS("#cf-input"), causeQuestion)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#cf-send"))); err != nil {
		t.Fatal(err)
	}
	// While the answer streams, nothing is announced; once complete, it is.
	const state = `(function(e){ return (e ? (e.classList.contains("streaming") ? "streaming" : "done") : "none") + "|" + document.getElementById("cf-announce").textContent })(document.querySelector('.msg.assistant'))`
	streaming := evalUntil(t, frame, 15*time.Second, "the answer streaming", state,
		func(v string) bool { return strings.HasPrefix(v, "streaming|") || strings.HasPrefix(v, "done|") })
	if strings.HasPrefix(streaming, "streaming|") && streaming != "streaming|" {
		t.Errorf("announced while streaming: %q", streaming)
	}
	done := evalUntil(t, frame, 15*time.Second, "the answer completed", state, func(v string) bool { return strings.HasPrefix(v, "done|") })
	answer, _ := chromedp.Run(frame, chromedp.Evaluate[string](`document.querySelector('.msg.assistant .text').textContent`))
	if done != "done|Answer: "+answer {
		t.Errorf("announcer after the answer: %q, want the answer once", done)
	}
	if got, _ := chromedp.Run(frame, chromedp.Evaluate[string](`(function(s){ return s.backgroundColor + "|" + s.color })(getComputedStyle(document.querySelector('.msg.user')))`)); got != "rgb(255, 255, 0)|rgb(0, 0, 0)" {
		t.Errorf("user bubble background|colour %s, want the yellow accent with black text", got)
	}
	if ev, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfEvents.join(",")`)); strings.Contains(ev, "error") {
		t.Errorf("host events %q: the accent was refused", ev)
	}

	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Run(frame, chromedp.Action[bool](func(ctx context.Context, tg *chromedp.Target) (bool, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			return err == nil, err
		})); err != nil {
			t.Fatal(err)
		}
		if got, _ := chromedp.Run(frame, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); (scheme == "dark") != (got == "rgb(21, 26, 36)") {
			t.Errorf("%s scheme: body background %s", scheme, got)
		}
		if vs := axeScan(t, frame); len(vs) > 0 {
			t.Errorf("axe-core, %s scheme: %d WCAG 2.1 A/AA violations in the widget:%s", scheme, len(vs), describeViolations(vs))
		}
	}
}
