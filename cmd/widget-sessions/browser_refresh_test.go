//go:build browser

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWidgetRefresh: a host page mounts the widget with
// getSessionToken on a session of a few seconds. Before it expires the SDK
// asks the host for a new one (its backend mints a session of the same
// user and incident), and the widget switches to it without reloading: the
// conversation so far stays, marked as the earlier session, and a question
// asked after the first session has expired is answered on the new one.
// Then the new session is revoked: the widget stops, the host hears
// sessionRevoked, and no renewal is asked for. Unmounting says closed.
func TestBrowserWidgetRefresh(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host})
	caller := devToken(t, s, "demo", "user_alice", "admin")
	const ttl = 6 * time.Second
	first := s.mintCreated(t, caller, fmt.Sprintf(`{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX", "ttlSeconds": %d}`, int(ttl/time.Second)))
	firstExpiry, err := time.Parse(time.RFC3339, first.ExpiresAt)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var renewed []createSessionResponse
	widgetURL := s.public + "/embed?session=" + first.SessionID
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: first.SessionToken, WidgetURL: widgetURL,
		Mint: func() (string, error) {
			r := s.mint(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX", "ttlSeconds": 300}`)
			if r.status != http.StatusCreated {
				return "", fmt.Errorf("mint: %d %s", r.status, r.body)
			}
			var m createSessionResponse
			if err := json.Unmarshal(r.body, &m); err != nil {
				return "", err
			}
			mu.Lock()
			defer mu.Unlock()
			renewed = append(renewed, m)
			return m.SessionToken, nil
		}}

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	frame := frameContext(t, ctx, widgetURL)
	ask := func(question string, nth int) {
		t.Helper()
		evalUntil(t, frame, 10*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`,
			func(v string) bool { return v == "true" })
		if err := chromedp.Do(frame, chromedp.SetValue(chromedp.CSS("#cf-input"), question)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#cf-send"))); err != nil {
			t.Fatal(err)
		}
		evalUntil(t, frame, 15*time.Second, fmt.Sprintf("answer %d completed", nth),
			fmt.Sprintf(`(function(e){ return e && !e.classList.contains("streaming") ? "done" : "" })(document.querySelectorAll('.msg.assistant')[%d])`, nth),
			func(v string) bool { return v == "done" })
	}
	ask(causeQuestion, 0)

	// The renewal, before the first session's end.
	evalUntil(t, ctx, ttl, "the host asked for a new session", `window.cfRefreshes.join(",")`,
		func(v string) bool { return v != "" })
	if time.Now().After(firstExpiry) {
		t.Errorf("the renewal came after the session expired (%s)", first.ExpiresAt)
	}
	state := evalUntil(t, frame, 10*time.Second, "the widget on the new session",
		`document.querySelectorAll(".msg.earlier").length + "|" + Array.from(document.querySelectorAll('.divider[role="separator"]')).map(function (d) { return d.textContent }).join()`,
		func(v string) bool { return strings.HasPrefix(v, "2|") })
	if !strings.Contains(state, "session renewed") {
		t.Errorf("widget after the renewal: %q, want the earlier messages kept below a divider that says the session was renewed", state)
	}

	// After the first session's end, the conversation goes on, on the new one.
	time.Sleep(time.Until(firstExpiry.Add(time.Second)))
	ask("What should we do next?", 1)
	if got := evalUntil(t, frame, time.Second, "the new messages", `document.querySelectorAll(".msg:not(.earlier)").length + ""`,
		func(v string) bool { return v != "" }); got != "2" {
		t.Errorf("%s messages after the divider, want the new question and its answer", got)
	}
	events, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfEvents.join(",") + "|" + window.cfRefreshes.join(",")`))
	if err != nil {
		t.Fatal(err)
	}
	if events != "ready|with the current token" {
		t.Errorf("host events %q, want ready once, no error, and one renewal asked with the token in use", events)
	}

	// A revocation is not renewed: the widget stops and the host is told.
	mu.Lock()
	second := renewed[len(renewed)-1]
	mu.Unlock()
	if r := s.do(t, http.MethodDelete, s.public+"/v1/widget/sessions/"+second.SessionID, map[string]string{"Authorization": "Bearer " + caller}, ""); r.status != http.StatusNoContent {
		t.Fatalf("revoking the new session: %d %s", r.status, r.body)
	}
	evalUntil(t, ctx, 10*time.Second, "sessionRevoked on the host", `window.cfEvents.join(",")`,
		func(v string) bool { return strings.HasSuffix(v, "sessionRevoked") })
	evalUntil(t, frame, 5*time.Second, "the widget stopped", `document.getElementById("cf-input").disabled + "|" + document.getElementById("cf-notice").textContent`,
		func(v string) bool { return v == "true|This session was revoked." })
	time.Sleep(time.Second)
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfRefreshes.length + ""`)); got != "1" {
		t.Errorf("%s renewals asked for, want none after the revocation", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfWidget.unmount(); ""`)); err != nil {
		t.Fatal(err)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfEvents.join(",")`)); got != "ready,sessionRevoked,closed" {
		t.Errorf("host events %q, want ready,sessionRevoked,closed", got)
	}
}

// TestBrowserWidgetExpired: without getSessionToken, a session that
// expires ends the widget, in words, and the host hears sessionExpired.
func TestBrowserWidgetExpired(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host})
	m := s.mintCreated(t, devToken(t, s, "demo", "user_alice", "admin"), `{"userId": "user_alice", "ttlSeconds": 3}`)
	widgetURL := s.public + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL}
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	frame := frameContext(t, ctx, widgetURL)
	evalUntil(t, ctx, 10*time.Second, "sessionExpired on the host", `window.cfEvents.join(",")`,
		func(v string) bool { return strings.HasSuffix(v, "sessionExpired") })
	evalUntil(t, frame, 5*time.Second, "the widget ended", `document.getElementById("cf-input").disabled + "|" + document.getElementById("cf-notice").textContent`,
		func(v string) bool { return v == "true|This session has expired." })
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfEvents.join(",")`)); got != "ready,sessionExpired" {
		t.Errorf("host events %q, want ready,sessionExpired", got)
	}
}

// TestBrowserSDKTypes: /sdk.d.ts types a TypeScript host page: the
// README's integration compiles with --strict against it, and misuses
// (an unknown event, a missing token, a wrong callback) are refused.
// TypeScript is the one make test-browser installs into bin/node.
func TestBrowserSDKTypes(t *testing.T) {
	tsc := filepath.Join("..", "..", "bin", "node", "node_modules", ".bin", "tsc")
	if _, err := os.Stat(tsc); err != nil {
		t.Fatalf("TypeScript not installed: run `make test-browser`, which installs it (%v)", err)
	}
	s := startServer(t, nil)
	r := s.get(t, s.public+"/sdk.d.ts")
	if r.status != http.StatusOK {
		t.Fatalf("GET /sdk.d.ts: %d", r.status)
	}
	dir := t.TempDir()
	decl := filepath.Join(dir, "causeflow-widget.d.ts")
	if err := os.WriteFile(decl, r.body, 0o644); err != nil {
		t.Fatal(err)
	}
	host, err := filepath.Abs(filepath.Join("testdata", "sdk-host.ts"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tsc, "--noEmit", "--strict", "--target", "es2020", "--lib", "es2020,dom", decl, host).CombinedOutput()
	if err != nil {
		t.Errorf("tsc refused the host page (or accepted a misuse):\n%s", out)
	}
}
