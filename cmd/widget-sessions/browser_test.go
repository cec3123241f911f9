//go:build browser

package main

// The widget in a real browser: headless Chromium (Debian's chromium,
// installed by `make test-browser`), driven over the DevTools protocol with
// chromedp. A customer's page on one origin (http://localhost:PORT) mounts
// the widget from the server's origin (http://127.0.0.1:PORT), exactly as
// the README's integration does, and the test reads what a user would see.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// browserTimeout bounds each browser test as a whole.
const browserTimeout = 45 * time.Second

// hostPage is the customer's page: their backend minted the session and
// put its token and widgetUrl into the page; the page loads the SDK from the
// widget's server and mounts it. It also records every message it receives,
// so a test can tell whether the widget ever spoke to it.
var hostPage = template.Must(template.New("host").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Acme Ops: incident review</title>
<style>
body { margin: 0; font: 14px system-ui, sans-serif; background: #e9edf3; }
.app { padding: 24px; display: flex; gap: 24px; }
.side { flex: 1; color: #48506a; }
#widget { width: 420px; height: 580px; }
</style></head>
<body><div class="app"><div id="widget"></div><div class="side"><h2>Acme Ops</h2><p>Incident review</p></div></div>
<script src="{{.SDK}}"></script>
<script>
window.cfMessages = [];
window.cfEvents = [];
window.cfRefreshes = [];
window.cfTokenInUse = {{.Token}};
window.addEventListener("message", function (e) { window.cfMessages.push(e.origin + " " + (e.data && e.data.type)); });
var options = {
  element: document.getElementById("widget"),
  sessionToken: {{.Token}},
  widgetUrl: {{.WidgetURL}}
};
{{if .Mint}}
// The host's backend mints a new session of the same user and incident.
options.getSessionToken = function (current) {
  window.cfRefreshes.push(current === window.cfTokenInUse ? "with the current token" : "with another token");
  return fetch("/token", { method: "POST" }).then(function (r) {
    if (!r.ok) { throw new Error("mint " + r.status); }
    return r.json();
  }).then(function (d) { window.cfTokenInUse = d.sessionToken; return d.sessionToken; });
};
{{end}}
{{if .Theme}}options.theme = {{.Theme}};{{end}}
{{if .Locale}}options.locale = {{.Locale}};{{end}}
window.cfWidget = CauseFlowWidget.mount(options);
["ready", "sessionExpired", "sessionRevoked", "error", "closed"].forEach(function (e) {
  window.cfWidget.on(e, function () { window.cfEvents.push(e); });
});
</script></body></html>`))

type hostPageData struct {
	SDK       string
	Token     string
	WidgetURL string
	// Mint, when set, is the host's backend: POST /token answers
	// {"sessionToken": ...} from it, and the page mounts with
	// getSessionToken.
	Mint func() (string, error)
	// Theme and Locale, when set, are mount's theme and locale options.
	Theme  map[string]any
	Locale string
}

// startHost serves the customer's page on http://localhost:PORT: another
// origin than the widget server's http://127.0.0.1:PORT, though both are on
// this machine. data is read when the page is requested.
func startHost(t *testing.T, data *hostPageData) (origin string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" && r.Method == http.MethodPost && data.Mint != nil {
			tok, err := data.Mint()
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"sessionToken": tok})
			return
		}
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := hostPage.Execute(w, data); err != nil {
			t.Errorf("host page: %v", err)
		}
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

// newBrowser starts headless Chromium with a profile of its own and returns
// a context for its first tab, bounded by browserTimeout.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return startChromium(t, browserTimeout)
}

// startChromium is newBrowser bounded by timeout, with flags added to the
// command line.
func startChromium(t *testing.T, timeout time.Duration, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	execPath, err := exec.LookPath("chromium")
	if err != nil {
		execPath = "/usr/bin/chromium"
		if _, err := os.Stat(execPath); err != nil {
			t.Fatal("chromium not found: run `make test-browser`, which installs Debian's chromium")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(900, 640),
	}, flags...)...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	// A viewport the host page fits in: the window size includes the
	// browser's own UI, even headless.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(900, 640)); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return bctx
}

// frameContext waits for the widget's iframe (an out-of-process frame: it
// is another site than its host) and returns a context attached to it.
func frameContext(t *testing.T, ctx context.Context, urlPrefix string) context.Context {
	t.Helper()
	var found *target.Info
	var targets []*target.Info
	wait.Within(t, 15*time.Second, "the widget's iframe target at "+urlPrefix, func() bool {
		var err error
		if targets, err = chromedp.Targets(ctx); err != nil {
			t.Fatalf("listing targets: %v", err)
		}
		for _, ti := range targets {
			if ti.Type == "iframe" && strings.HasPrefix(ti.URL, urlPrefix) {
				found = ti
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("targets: %v", targetURLs(targets)) })
	fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(found.TargetID))
	t.Cleanup(cancel)
	return fctx
}

func targetURLs(ts []*target.Info) []string {
	var out []string
	for _, ti := range ts {
		out = append(out, string(ti.Type)+" "+ti.URL)
	}
	return out
}

// evalUntil evaluates expr (a JavaScript expression giving a string) until
// ok accepts its value, for at most d, and returns that value.
func evalUntil(t *testing.T, ctx context.Context, d time.Duration, what, expr string, ok func(string) bool) string {
	t.Helper()
	var v string
	var err error
	wait.Within(t, d, what, func() bool {
		v, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		return err == nil && ok(v)
	}, func() string { return fmt.Sprintf("last value %q, error %v", v, err) })
	return v
}

// screenshotOf captures the viewport as it is and crops it to the element
// under selector: chromedp's Screenshot captures "beyond the viewport",
// which re-lays out the page for the capture.
func screenshotOf(selector string) chromedp.Action[[]byte] {
	return func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		rect, err := chromedp.Evaluate[[4]float64](fmt.Sprintf(
			`(function(r){ return [r.x, r.y, r.width, r.height].map(Math.round) })(document.querySelector(%q).getBoundingClientRect())`,
			selector))(ctx, t)
		if err != nil {
			return nil, err
		}
		res, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
		if err != nil {
			return nil, err
		}
		img, err := png.Decode(bytes.NewReader(res.Data))
		if err != nil {
			return nil, err
		}
		sub, ok := img.(interface {
			SubImage(image.Rectangle) image.Image
		})
		if !ok {
			return nil, fmt.Errorf("screenshot: cannot crop a %T", img)
		}
		x, y, w, h := int(rect[0]), int(rect[1]), int(rect[2]), int(rect[3])
		var out bytes.Buffer
		if err := png.Encode(&out, sub.SubImage(image.Rect(x, y, x+w, y+h))); err != nil {
			return nil, err
		}
		return out.Bytes(), nil
	}
}

// TestBrowserWidget: a customer's page mounts the widget, which shows the
// incident's title and severity, sends the user's question, and renders the
// assistant's answer piece by piece as it streams. A screenshot is saved
// as artifacts/widget.png.
func TestBrowserWidget(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host})
	caller := devToken(t, s, "demo", "user_alice", "admin")
	m := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	widgetURL := s.public + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL}
	inc := demoIncident(t, "inc_EXAMPLE_01JX")

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	frame := frameContext(t, ctx, widgetURL)

	evalUntil(t, frame, 15*time.Second, "the incident title", `document.getElementById("cf-title").textContent`,
		func(v string) bool { return v == inc.Title })
	if sev := evalUntil(t, frame, 5*time.Second, "the severity badge",
		`(function(b){ return b.hidden ? "" : b.textContent + " " + b.className })(document.getElementById("cf-severity"))`,
		func(v string) bool { return v != "" }); sev != "high badge sev-high" {
		t.Errorf("severity badge %q, want \"high badge sev-high\"", sev)
	}
	// The handshake went through the host page: the widget said it was
	// ready, then that its session loaded, from its own origin, and
	// nothing else spoke to the page; the SDK told the page "ready".
	msgs := evalUntil(t, ctx, 5*time.Second, "the widget's messages to the host page", `window.cfMessages.join(",") + "|" + window.cfEvents.join(",")`,
		func(v string) bool { return strings.Count(v, "causeflow:") >= 2 && strings.HasSuffix(v, "|ready") })
	if want := s.public + " causeflow:ready," + s.public + " causeflow:session-ready|ready"; msgs != want {
		t.Errorf("host page received %q, want %q", msgs, want)
	}

	// Wait for the input to be enabled (the stream is being opened), then ask.
	evalUntil(t, frame, 10*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`,
		func(v string) bool { return v == "true" })
	// Key events sent to a cross-origin (out-of-process) frame are
	// delivered on its renderer's schedule, and on a loaded machine some
	// were lost (only "W" arrived): set the field's value in the frame
	// instead. What is under test is the stream, not the keyboard.
	if err := chromedp.Do(frame, chromedp.SetValue(chromedp.CSS("#cf-input"), causeQuestion)); err != nil {
		t.Fatalf("typing: %v", err)
	}
	evalUntil(t, frame, 5*time.Second, "the typed question", `document.getElementById("cf-input").value`,
		func(v string) bool { return v == causeQuestion })
	if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#cf-send"))); err != nil {
		t.Fatalf("sending: %v", err)
	}
	evalUntil(t, frame, 10*time.Second, "the question in the conversation",
		`(function(e){ return e ? e.textContent : "" })(document.querySelector('.msg.user .text'))`,
		func(v string) bool { return v == causeQuestion })

	// Watch the answer grow: its length, read again and again while it is
	// still streaming, must pass through several values before it completes.
	const answerState = `(function(e){ return e ? e.getAttribute("class") + "|" + e.querySelector(".text").textContent : "" })(document.querySelector('.msg.assistant'))`
	var lengths []int
	final := ""
	deadline := time.Now().Add(20 * time.Second)
	for final == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the answer did not complete; lengths seen %v", lengths)
		}
		v, err := chromedp.Run(frame, chromedp.Evaluate[string](answerState))
		if err != nil {
			t.Fatal(err)
		}
		class, text, _ := strings.Cut(v, "|")
		switch {
		case v == "":
		case strings.Contains(class, "streaming"):
			if n := len(text); n > 0 && (len(lengths) == 0 || lengths[len(lengths)-1] != n) {
				if len(lengths) > 0 && n < lengths[len(lengths)-1] {
					t.Errorf("the answer shrank from %d to %d characters while streaming", lengths[len(lengths)-1], n)
				}
				lengths = append(lengths, n)
			}
		default:
			final = text
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(lengths) < 3 {
		t.Errorf("saw the streaming answer at %d lengths %v, want at least 3 intermediate values", len(lengths), lengths)
	}
	if len(lengths) > 0 && lengths[len(lengths)-1] >= len(final) && len(lengths) < 3 {
		t.Errorf("the answer appeared whole, not piece by piece: %v then %d", lengths, len(final))
	}
	if !strings.Contains(final, inc.SuspectedCause) || strings.Contains(final, "**") {
		t.Errorf("final answer %q: want the suspected cause %q, with its bold markers rendered", final, inc.SuspectedCause)
	}
	t.Logf("answer lengths while streaming: %v, then %d", lengths, len(final))

	// Focusing the input may have scrolled the host page; show it whole.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0); true`)); err != nil {
		t.Fatal(err)
	}
	// Two animation frames: the scroll is painted by the second.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, screenshotOf("#widget"))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	writeArtifact(t, "widget.png", shot)

	// The token never went into a URL or the log.
	s.stop(t)
	assertNotInLog(t, s.log.String(), map[string]string{"the session token": m.SessionToken})
}

// TestBrowserWidgetRefused: a page on an origin that is not on the
// allow-list gets nothing. The browser refuses to frame the widget (CSP
// frame-ancestors), so the SDK never hears causeflow:ready and never posts
// the token; and the widget, opened where framing does not apply, ignores a
// token posted from an origin not on its list. No session is loaded and no
// token-bearing request reaches the server.
func TestBrowserWidgetRefused(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": "https://app.customer.example"})
	caller := devToken(t, s, "demo", "user_alice", "admin")
	m := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	widgetURL := s.public + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL}

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	// The frame was asked for (the server answered /embed) ...
	if !s.log.waitFor(`"route":"/embed"`, 10*time.Second) {
		t.Fatalf("the browser never requested /embed\nlog:\n%s", s.log)
	}
	// ... and the widget, had it run, would have spoken within this time.
	time.Sleep(1500 * time.Millisecond)
	msgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cfMessages`))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Errorf("host page on a refused origin received %q, want nothing", msgs)
	}

	// The widget opened directly (no frame ancestors to refuse it), handed
	// a token by a page whose origin (its own) is not on the list.
	if err := chromedp.Do(ctx, chromedp.Navigate(widgetURL)); err != nil {
		t.Fatalf("opening the widget: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`window.postMessage({type: "causeflow:session", sessionToken: %q}, "*"); "posted"`, m.SessionToken))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	title, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("cf-title").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if title != "Waiting for the session…" {
		t.Errorf("widget title %q: it took a token from an origin not on its list", title)
	}

	s.stop(t)
	log := s.log.String()
	for _, route := range []string{"/v1/widget/session", "/v1/widget/sessions/:sessionId/stream-tickets", "/v1/widget/sessions/:sessionId/stream"} {
		if strings.Contains(log, `"route":"`+route+`"`) {
			t.Errorf("the server saw %s: a refused host got a session loaded", route)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the browser test ran out of time")
	}
}

// TestBrowserSDKRefusesCleartext: mount refuses a widget URL that is not
// https, since the session token would be posted to it in cleartext; plain
// http is allowed for localhost and 127.0.0.1 only (a development machine).
func TestBrowserSDKRefusesCleartext(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, nil)
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: "wst_test_x", WidgetURL: s.public + "/embed?session=wsess_x"}
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	for _, c := range []struct{ url, want string }{
		{"http://widget.example/embed?session=wsess_x", "must be https"},
		{"http://10.0.0.7/embed?session=wsess_x", "must be https"},
		{"ftp://widget.example/embed", "must be https"},
		{"javascript:alert(1)", "must be https"},
		{"https://widget.example/embed?session=wsess_x", "mounted"},
		{"http://localhost:9/embed?session=wsess_x", "mounted"},
		{"http://127.0.0.1:9/embed?session=wsess_x", "mounted"},
	} {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(function () {
  try {
    var w = CauseFlowWidget.mount({element: document.createElement("div"), sessionToken: "wst_test_x", widgetUrl: %q});
    w.unmount();
    return "mounted";
  } catch (e) { return e.message; }
})()`, c.url)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("mount with widgetUrl %s: %q, want %q", c.url, got, c.want)
		}
	}
}

// TestBrowserWidgetStop: while an answer streams the widget shows a Stop
// button; pressing it, or Escape, stops the answer where it is: the
// bubble keeps what had streamed, marked as cancelled, the button goes,
// and the next question is answered. The model streams slowly, so the
// stop always lands mid-answer.
func TestBrowserWidgetStop(t *testing.T) {
	chunks := make([]string, 60)
	for i := range chunks {
		chunks[i] = fmt.Sprintf("part %d. ", i)
	}
	model := &fakeModel{chunks: chunks, delay: 150 * time.Millisecond}
	upstream := httptest.NewServer(model)
	defer upstream.Close()
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host,
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model"})
	m := s.mintCreated(t, devToken(t, s, "demo", "user_alice", "admin"), `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	widgetURL := s.public + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: s.public + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL}
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	frame := frameContext(t, ctx, widgetURL)
	evalUntil(t, frame, 15*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`,
		func(v string) bool { return v == "true" })

	for i, how := range []struct{ name, js string }{
		{"the Stop button", `document.getElementById("cf-stop").click()`},
		{"Escape", `document.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", bubbles: true}))`},
	} {
		question := fmt.Sprintf("question %d", i)
		if err := chromedp.Do(frame, chromedp.SetValue(chromedp.CSS("#cf-input"), question)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#cf-send"))); err != nil {
			t.Fatal(err)
		}
		nth := fmt.Sprintf(`document.querySelectorAll('.msg.assistant')[%d]`, i)
		evalUntil(t, frame, 15*time.Second, "the answer streaming, the Stop button shown",
			`(function(b, e){ return String(!b.hidden && !!e && e.classList.contains("streaming") && e.textContent.length > 0) })(document.getElementById("cf-stop"), `+nth+`)`,
			func(v string) bool { return v == "true" })
		if _, err := chromedp.Run(frame, chromedp.Evaluate[any](how.js+`; null`)); err != nil {
			t.Fatalf("%s: %v", how.name, err)
		}
		state := evalUntil(t, frame, 10*time.Second, "the answer stopped by "+how.name,
			`(function(b, e){ return e && !e.classList.contains("streaming") ? e.getAttribute("class") + "|" + b.hidden + "|" + e.textContent : "" })(document.getElementById("cf-stop"), `+nth+`)`,
			func(v string) bool { return v != "" })
		class, rest, _ := strings.Cut(state, "|")
		hidden, text, _ := strings.Cut(rest, "|")
		if !strings.Contains(class, "cancelled") || hidden != "true" || !strings.HasPrefix(text, "part 0. ") || strings.Contains(text, "part 59.") {
			t.Errorf("%s: answer %q (class %q, stop hidden %s), want a cancelled, partial answer and the button gone", how.name, text, class, hidden)
		}
	}
}
