//go:build browser

package main

// The widget's one scenario, run in three browser engines: Chromium (over
// the DevTools protocol, chromedp), Firefox ESR (over WebDriver BiDi, with
// puppeteer-core from npm) and WebKitGTK (its W3C WebDriver, under
// xvfb-run: its MiniBrowser has no headless mode). make test-browser
// installs all three and the npm tools; nothing is downloaded here.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// engine is a browser the scenario drives: a page, and in it the widget's
// iframe (frame names it by its URL's beginning; "" is the page itself).
type engine interface {
	navigate(url string) error
	// eval evaluates a JavaScript expression whose value is a string,
	// waiting for it if it is a promise.
	eval(frame, expr string) (string, error)
	screenshot() ([]byte, error)
}

// ---- Chromium, over the DevTools protocol -----------------------------------

type chromiumEngine struct {
	t      *testing.T
	ctx    context.Context
	frames map[string]context.Context
}

// newChromium bounds the engine by the two scenarios' time, not one test's.
func newChromium(t *testing.T) engine {
	return &chromiumEngine{t: t, ctx: startChromium(t, 3*time.Minute), frames: map[string]context.Context{}}
}

// navigate opens url; the frames of the page before are gone with it.
func (e *chromiumEngine) navigate(url string) error {
	clear(e.frames)
	return chromedp.Do(e.ctx, chromedp.Navigate(url))
}

func (e *chromiumEngine) eval(frame, expr string) (string, error) {
	ctx := e.ctx
	if frame != "" {
		if e.frames[frame] == nil {
			e.frames[frame] = frameContext(e.t, e.ctx, frame)
		}
		ctx = e.frames[frame]
	}
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
}

func (e *chromiumEngine) screenshot() ([]byte, error) {
	return chromedp.Run(e.ctx, screenshotOf("body"))
}

// ---- Firefox ESR, over WebDriver BiDi (testdata/bidi-driver.cjs) ------------

type firefoxEngine struct {
	mu  sync.Mutex
	in  io.Writer
	out *bufio.Scanner
	id  int
}

func newFirefox(t *testing.T) engine {
	t.Helper()
	tools, err := filepath.Abs(filepath.Join("..", "..", "bin", "node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tools, "node_modules", "puppeteer-core")); err != nil {
		t.Fatalf("puppeteer-core not installed: run `make test-browser`, which installs it (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "node", filepath.Join("testdata", "bidi-driver.cjs"))
	cmd.Env = append(os.Environ(), "NODE_TOOLS="+tools)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the BiDi driver: %v", err)
	}
	e := &firefoxEngine{in: in, out: bufio.NewScanner(outPipe)}
	e.out.Buffer(make([]byte, 1<<20), 64<<20) // screenshots come back whole
	t.Cleanup(func() {
		_, _ = e.call("close", nil)
		in.Close()
		_ = cmd.Wait()
		cancel()
	})
	if !e.out.Scan() || !strings.Contains(e.out.Text(), `"ready"`) {
		t.Fatalf("firefox did not start: %s %s", e.out.Text(), stderr.String())
	}
	return e
}

func (e *firefoxEngine) call(op string, args map[string]string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.id++
	req := map[string]any{"id": e.id, "op": op}
	for k, v := range args {
		req[k] = v
	}
	if err := json.NewEncoder(e.in).Encode(req); err != nil {
		return "", err
	}
	if !e.out.Scan() {
		return "", fmt.Errorf("bidi driver: no answer to %s: %v", op, e.out.Err())
	}
	var res struct {
		ID    int    `json:"id"`
		Value string `json:"value"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(e.out.Bytes(), &res); err != nil {
		return "", err
	}
	if res.Error != "" {
		return "", fmt.Errorf("bidi driver: %s: %s", op, res.Error)
	}
	return res.Value, nil
}

func (e *firefoxEngine) navigate(url string) error {
	_, err := e.call("navigate", map[string]string{"url": url})
	return err
}

func (e *firefoxEngine) eval(frame, expr string) (string, error) {
	return e.call("eval", map[string]string{"frame": frame, "expr": expr})
}

func (e *firefoxEngine) screenshot() ([]byte, error) {
	b64, err := e.call("screenshot", nil)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(b64)
}

// ---- WebKitGTK, over W3C WebDriver ------------------------------------------

type webkitEngine struct {
	base string // http://127.0.0.1:port/session/<id>
}

const webElementKey = "element-6066-11e4-a52e-4f735466cecf"

func newWebKit(t *testing.T) engine {
	t.Helper()
	for _, bin := range []string{"xvfb-run", "WebKitWebDriver"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not installed: run `make test-browser`, which installs it", bin)
		}
	}
	port := redistest.FreePort(t)
	cmd := exec.Command("xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "WebKitWebDriver", fmt.Sprintf("--port=%d", port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // xvfb-run starts Xvfb and the driver: stop them all
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	})
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	wait.Within(t, 20*time.Second, "WebKitWebDriver answers /status", func() bool {
		resp, err := http.Get(root + "/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, logs.String)
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "MiniBrowser",
		"webkitgtk:browserOptions": map[string]any{
			"binary": miniBrowser(t),
			"args":   []string{"--automation"},
		},
	}}}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	if err := webdriver(http.MethodPost, root+"/session", caps, &session); err != nil {
		t.Fatalf("new WebKit session: %v\n%s", err, logs.String())
	}
	e := &webkitEngine{base: root + "/session/" + session.SessionID}
	t.Cleanup(func() { _ = webdriver(http.MethodDelete, e.base, nil, nil) })
	if err := webdriver(http.MethodPost, e.base+"/window/rect", map[string]int{"width": 900, "height": 640}, nil); err != nil {
		t.Logf("WebKit window size: %v", err)
	}
	return e
}

// miniBrowser finds WebKitGTK's MiniBrowser, which Debian keeps in the
// library directory of its webkit2gtk.
func miniBrowser(t *testing.T) string {
	matches, _ := filepath.Glob("/usr/lib/*/webkit2gtk-4.*/MiniBrowser")
	if len(matches) == 0 {
		t.Fatal("WebKitGTK's MiniBrowser not found: run `make test-browser`, which installs webkit2gtk-driver")
	}
	return matches[len(matches)-1]
}

// webdriver sends one W3C WebDriver command and decodes its value into out.
func webdriver(method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webdriver %s %s: %d %s", method, url, resp.StatusCode, res.Value)
	}
	if out != nil {
		return json.Unmarshal(res.Value, out)
	}
	return nil
}

func (e *webkitEngine) navigate(url string) error {
	return webdriver(http.MethodPost, e.base+"/url", map[string]string{"url": url}, nil)
}

func (e *webkitEngine) eval(frame, expr string) (string, error) {
	if frame != "" {
		var el map[string]string
		if err := webdriver(http.MethodPost, e.base+"/element", map[string]string{"using": "css selector", "value": fmt.Sprintf("iframe[src^=%q]", frame)}, &el); err != nil {
			return "", err
		}
		if err := webdriver(http.MethodPost, e.base+"/frame", map[string]any{"id": map[string]string{webElementKey: el[webElementKey]}}, nil); err != nil {
			return "", err
		}
		defer func() { _ = webdriver(http.MethodPost, e.base+"/frame/parent", map[string]any{}, nil) }()
	}
	var v any
	err := webdriver(http.MethodPost, e.base+"/execute/sync", map[string]any{"script": "return Promise.resolve(" + expr + ").then(String);", "args": []any{}}, &v)
	if err != nil {
		return "", err
	}
	s, _ := v.(string)
	return s, nil
}

func (e *webkitEngine) screenshot() ([]byte, error) {
	var b64 string
	if err := webdriver(http.MethodGet, e.base+"/screenshot", nil, &b64); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(b64)
}

// ---- the scenario -------------------------------------------------------------

// TestBrowserEngines runs the widget's two scenarios in each engine. The
// first, light and in English: mount, ask, watch the answer stream, cut the
// connection and resume, stop an answer, have the session renewed and go
// on with the new one, and find no WCAG 2.1 A/AA violation with axe-core.
// The second, dark and in Arabic (localeScenario): right-to-left layout,
// the theme's properties, feedback on an answer, and a resumed widget
// that shows it. Screenshots go to artifacts/widget-<engine>-light-en.png
// and artifacts/widget-<engine>-dark-ar.png.
func TestBrowserEngines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*testing.T) engine
	}{
		{"chromium", newChromium},
		{"firefox", newFirefox},
		{"webkit", newWebKit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := tc.start(t)
			widgetScenario(t, tc.name, eng)
			localeScenario(t, tc.name, eng)
		})
	}
}

func widgetScenario(t *testing.T, name string, eng engine) {
	chunks := make([]string, 30)
	for i := range chunks {
		chunks[i] = fmt.Sprintf("part %d. ", i)
	}
	upstream := httptest.NewServer(&fakeModel{chunks: chunks, delay: 100 * time.Millisecond})
	t.Cleanup(upstream.Close)
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host,
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model"})
	proxy := newCutProxy(t, s.public)
	caller := devToken(t, s, "demo", "user_alice", "admin")
	const ttl = 14 * time.Second
	first := s.mintCreated(t, caller, fmt.Sprintf(`{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX", "ttlSeconds": %d}`, int(ttl/time.Second)))
	widgetURL := proxy.URL() + "/embed?session=" + first.SessionID
	*data = hostPageData{SDK: proxy.URL() + "/sdk.js", Token: first.SessionToken, WidgetURL: widgetURL,
		Mint: func() (string, error) {
			r := s.mint(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX", "ttlSeconds": 300}`)
			var m createSessionResponse
			if err := json.Unmarshal(r.body, &m); err != nil || r.status != http.StatusCreated {
				return "", fmt.Errorf("mint: %d %s", r.status, r.body)
			}
			return m.SessionToken, nil
		}}

	waitFor := func(d time.Duration, what, frame, expr string, ok func(string) bool) string {
		t.Helper()
		var v string
		var err error
		wait.Within(t, d, name+": waiting for "+what, func() bool {
			v, err = eng.eval(frame, expr)
			return err == nil && ok(v)
		}, func() string { return fmt.Sprintf("last value %q, error %v", v, err) })
		return v
	}
	is := func(want string) func(string) bool { return func(v string) bool { return v == want } }
	ask := func(q string) {
		t.Helper()
		waitFor(10*time.Second, "the input enabled", widgetURL, `String(!document.getElementById("cf-input").disabled)`, is("true"))
		if _, err := eng.eval(widgetURL, fmt.Sprintf(`(function () { var i = document.getElementById("cf-input"); i.value = %q; document.getElementById("cf-send").click(); return "sent"; })()`, q)); err != nil {
			t.Fatalf("%s: asking: %v", name, err)
		}
	}
	// done/all assistant messages, and user messages.
	const counts = `document.querySelectorAll('.msg.assistant:not(.streaming)').length + "/" + document.querySelectorAll('.msg.assistant').length + "/" + document.querySelectorAll('.msg.user').length`

	if err := eng.navigate(host + "/"); err != nil {
		t.Fatalf("%s: opening the host page: %v", name, err)
	}
	waitFor(15*time.Second, "the incident title", widgetURL, `document.getElementById("cf-title").textContent`,
		func(v string) bool { return v != "" && v != "Waiting for the session…" })

	// Ask, and watch the answer stream in: several lengths before the end.
	ask("What is the suspected cause?")
	var lengths []string
	waitFor(20*time.Second, "the first answer", widgetURL,
		`(function (e) { return e ? (e.classList.contains("streaming") ? "s" : "d") + e.textContent.length : "" })(document.querySelector(".msg.assistant"))`,
		func(v string) bool {
			if len(lengths) == 0 || lengths[len(lengths)-1] != v {
				lengths = append(lengths, v)
			}
			return strings.HasPrefix(v, "d")
		})
	if len(lengths) < 3 {
		t.Errorf("%s: the answer did not stream: states seen %v", name, lengths)
	}

	// Cut the connection: the widget says so, resumes from its last event,
	// and the next answer arrives whole.
	proxy.cut()
	ask("What are the next steps?")
	waitFor(30*time.Second, "the second answer after the reconnect", widgetURL, counts, is("2/2/2"))
	resumed := false
	for _, l := range proxy.requestLines() {
		resumed = resumed || (strings.Contains(l, "/stream?ticket=") && strings.Contains(l, "&lastEventId="))
	}
	if !resumed {
		t.Errorf("%s: no stream resumed with lastEventId: %q", name, proxy.requestLines())
	}

	// Stop an answer mid-way: what had streamed stays, marked stopped.
	ask("Tell me everything.")
	waitFor(10*time.Second, "the third answer streaming", widgetURL,
		`(function (e) { return String(!!e && e.classList.contains("streaming") && e.textContent.length > 0) })(document.querySelectorAll(".msg.assistant")[2])`, is("true"))
	if _, err := eng.eval(widgetURL, `(function () { document.getElementById("cf-stop").click(); return "stopped"; })()`); err != nil {
		t.Fatal(err)
	}
	stopped := waitFor(10*time.Second, "the third answer stopped", widgetURL,
		`(function (e) { return e.classList.contains("cancelled") ? e.textContent : "" })(document.querySelectorAll(".msg.assistant")[2])`,
		func(v string) bool { return v != "" })
	if !strings.Contains(stopped, "Answer stopped") || strings.Contains(stopped, "part 29.") {
		t.Errorf("%s: stopped answer %q, want a partial answer marked stopped", name, stopped)
	}

	// The session is renewed before it ends; the conversation goes on with
	// the new one, the earlier one kept above a divider.
	waitFor(ttl, "the renewal", "", `window.cfRefreshes.join(",")`, func(v string) bool { return v != "" })
	waitFor(10*time.Second, "the divider", widgetURL, `document.querySelectorAll(".divider").length + ""`, is("1"))
	ask("And now?")
	waitFor(20*time.Second, "the answer on the new session", widgetURL, counts, is("4/4/4"))
	if ev, _ := eng.eval("", `window.cfEvents.join(",")`); ev != "ready" {
		t.Errorf("%s: host events %q, want ready alone", name, ev)
	}

	engineAxe(t, name, eng, widgetURL)
	saveShot(t, name+"-light-en", eng)
}

// engineAxe runs axe-core inside the widget's page and fails on any WCAG
// 2.1 A/AA violation.
func engineAxe(t *testing.T, name string, eng engine, widgetURL string) {
	t.Helper()
	vs := axeRun(t, func(expr string) (string, error) { return eng.eval(widgetURL, expr) })
	if len(vs) > 0 {
		t.Errorf("%s: axe-core: %d WCAG 2.1 A/AA violations:%s", name, len(vs), describeViolations(vs))
	}
}

// saveShot writes the engine's screenshot to artifacts/widget-<name>.png.
func saveShot(t *testing.T, name string, eng engine) {
	t.Helper()
	shot, err := eng.screenshot()
	if err != nil {
		t.Fatalf("%s: screenshot: %v", name, err)
	}
	writeArtifact(t, "widget-"+name+".png", shot)
}

// localeScenario: a host mounts the widget dark, with a light accent, square
// corners, a serif font, and in Arabic. The page is Arabic, right to left
// (the user's messages on the left, the assistant's on the right), and
// themed (black text on the accent); the question reaches the model with
// the user's language; a thumbs down with a reason is recorded and marked;
// a widget opened afresh on the same session shows it; axe-core finds no
// violation.
func localeScenario(t *testing.T, name string, eng engine) {
	model := &fakeModel{chunks: []string{"السبب ", "المشتبه ", "به: ", "نشر ", "خاطئ."}, delay: 50 * time.Millisecond}
	upstream := httptest.NewServer(model)
	t.Cleanup(upstream.Close)
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host,
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model"})
	caller := devToken(t, s, "demo", "user_alice", "admin")
	m := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	// Through a proxy that closes the browser's connections when the test
	// ends: the engine outlives this server, and a socket it opened ahead
	// (and never used) would hold the server's graceful shutdown.
	proxy := newCutProxy(t, s.public)
	widgetURL := proxy.URL() + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: proxy.URL() + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL, Locale: "ar",
		Theme: map[string]any{"scheme": "dark", "accent": "#ffd24a", "radius": 0, "font": "Georgia, serif"}}
	waitFor := func(d time.Duration, what, expr string, ok func(string) bool) string {
		t.Helper()
		var v string
		var err error
		wait.Within(t, d, name+" (ar): waiting for "+what, func() bool {
			v, err = eng.eval(widgetURL, expr)
			return err == nil && ok(v)
		}, func() string { return fmt.Sprintf("last value %q, error %v", v, err) })
		return v
	}
	is := func(want string) func(string) bool { return func(v string) bool { return v == want } }

	if err := eng.navigate(host + "/"); err != nil {
		t.Fatalf("%s: opening the host page: %v", name, err)
	}
	waitFor(15*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`, is("true"))
	page := waitFor(5*time.Second, "the page in Arabic", `[document.documentElement.lang, document.documentElement.dir, document.getElementById("cf-send").textContent, document.getElementById("cf-input").placeholder].join("|")`,
		func(v string) bool { return strings.HasPrefix(v, "ar|") })
	if page != "ar|rtl|إرسال|اسأل عن هذا الحادث…" {
		t.Errorf("%s: lang|dir|Send|placeholder = %q", name, page)
	}
	theme, _ := eng.eval(widgetURL, `(function (r, b) { return [document.documentElement.getAttribute("data-scheme"), b.backgroundColor, getComputedStyle(document.getElementById("cf-send")).color, r.getPropertyValue("--radius").trim(), b.fontFamily].join("|") })(getComputedStyle(document.documentElement), getComputedStyle(document.body))`)
	if theme != "dark|rgb(21, 26, 36)|rgb(0, 0, 0)|0px|Georgia, serif" {
		t.Errorf("%s: scheme|background|text on the accent|radius|font = %q, want dark, black on the light accent, 0px, Georgia", name, theme)
	}

	if _, err := eng.eval(widgetURL, `(function () { var i = document.getElementById("cf-input"); i.value = "ما السبب المشتبه به؟"; document.getElementById("cf-send").click(); return "sent"; })()`); err != nil {
		t.Fatalf("%s: asking: %v", name, err)
	}
	waitFor(20*time.Second, "the answer", `(function (e) { return e && !e.classList.contains("streaming") ? e.querySelector(".text").textContent : "" })(document.querySelector(".msg.assistant"))`,
		is("السبب المشتبه به: نشر خاطئ."))
	// Right to left: the user's bubble at the left edge, the assistant's
	// at the right.
	sides, _ := eng.eval(widgetURL, `(function (m, u, a) { return [Math.round(u.left - m.left), Math.round(m.right - a.right)].join(",") })(document.getElementById("cf-messages").getBoundingClientRect(), document.querySelector(".msg.user").getBoundingClientRect(), document.querySelector(".msg.assistant").getBoundingClientRect())`)
	var userGap, assistantGap int
	if _, err := fmt.Sscanf(sides, "%d,%d", &userGap, &assistantGap); err != nil || userGap > 40 || assistantGap > 40 {
		t.Errorf("%s: the user's bubble %d px from the left, the assistant's %d px from the right (%v); want both at their side", name, userGap, assistantGap, err)
	}
	model.mu.Lock()
	asked, _ := json.Marshal(model.requests)
	model.mu.Unlock()
	if !strings.Contains(string(asked), `The user reads Arabic (BCP 47 tag \"ar\")`) {
		t.Errorf("%s: the model was not asked to answer in Arabic: %s", name, asked)
	}

	// A thumbs down, with a reason.
	if _, err := eng.eval(widgetURL, `(function () { document.querySelector(".msg.assistant .fb-down").click(); return "clicked"; })()`); err != nil {
		t.Fatal(err)
	}
	waitFor(5*time.Second, "the reason form", `String(!!document.querySelector(".fb-reason input"))`, is("true"))
	if _, err := eng.eval(widgetURL, `(function () { document.querySelector(".fb-reason input").value = "الخدمة خاطئة"; document.querySelector(".fb-reason .send").click(); return "sent"; })()`); err != nil {
		t.Fatal(err)
	}
	const rated = `(function (e) { return (e.getAttribute("data-rating") || "") + "|" + e.querySelector(".fb-down").getAttribute("aria-pressed") + "|" + e.querySelector(".fb-up").getAttribute("aria-pressed") + "|" + !!e.querySelector(".fb-reason") })(document.querySelector(".msg.assistant"))`
	waitFor(10*time.Second, "the rating marked", rated, is("down|true|false|false"))

	engineAxe(t, name+" (ar)", eng, widgetURL)
	saveShot(t, name+"-dark-ar", eng)

	// The widget opened afresh on the same session replays its log: the
	// answer shows its rating.
	if err := eng.navigate(host + "/"); err != nil {
		t.Fatal(err)
	}
	waitFor(15*time.Second, "the rating after a resume", rated, is("down|true|false|false"))
}
