//go:build browser

package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// packageFiles is what the npm package holds: its module, its React
// component, their types, and the README npm adds.
var packageFiles = []string{"README.md", "index.d.ts", "index.js", "package.json", "react.d.ts", "react.js"}

// installPackage packs sdk/js with npm, checks the tarball holds exactly
// packageFiles, and installs it into a new app directory, as
// node_modules/@causeflow/widget, beside what a customer's frontend has
// (React, React DOM, React's types, TypeScript, esbuild: the tools make
// test-browser installs into bin/node, linked in). It returns the app
// directory.
func installPackage(t *testing.T) string {
	t.Helper()
	tools, err := filepath.Abs(filepath.Join("..", "..", "bin", "node", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(tools, "react-dom")); err != nil {
		t.Fatalf("React not installed: run `make test-browser`, which installs it (%v)", err)
	}
	dir := t.TempDir()
	out, err := exec.Command("npm", "pack", "--json", "--pack-destination", dir, filepath.Join("..", "..", "sdk", "js")).Output()
	if err != nil {
		t.Fatalf("npm pack: %v", err)
	}
	var packed []struct {
		Filename string
		Files    []struct{ Path string }
	}
	if err := json.Unmarshal(out, &packed); err != nil || len(packed) != 1 {
		t.Fatalf("npm pack --json: %v\n%s", err, out)
	}
	tgz, err := os.Open(filepath.Join(dir, packed[0].Filename))
	if err != nil {
		t.Fatal(err)
	}
	defer tgz.Close()
	zr, err := gzip.NewReader(tgz)
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app")
	pkg := filepath.Join(app, "node_modules", "@causeflow", "widget")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	var files []string
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || strings.Contains(name, "/") || h.Typeflag != tar.TypeReg {
			t.Fatalf("the tarball holds %s (%c): want plain files under package/", h.Name, h.Typeflag)
		}
		files = append(files, name)
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pkg, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(files)
	if !slices.Equal(files, packageFiles) {
		t.Errorf("the package holds %v, want %v", files, packageFiles)
	}
	entries, err := os.ReadDir(tools)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == ".bin" || strings.HasPrefix(e.Name(), ".") || e.Name() == "@causeflow" {
			continue
		}
		if err := os.Symlink(filepath.Join(tools, e.Name()), filepath.Join(app, "node_modules", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return app
}

// copyInto copies testdata files into dir.
func copyInto(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBrowserSDKPackage: the npm package as a customer's frontend uses it.
// npm pack holds exactly its files; a TypeScript consumer (module, types,
// the React component in TSX) compiles against the installed package with
// --strict, its misuses refused; and a React app bundled by esbuild mounts
// <CauseFlowWidget> in Chromium, which answers and streams, takes the
// theme, and switches to a new session when the sessionToken prop
// changes, in the same iframe.
func TestBrowserSDKPackage(t *testing.T) {
	app := installPackage(t)
	bin := filepath.Join(app, "node_modules", "typescript", "bin", "tsc")
	copyInto(t, app, "sdk-consumer/consumer.tsx", "sdk-consumer/tsconfig.json")
	if out, err := exec.Command("node", bin, "-p", app).CombinedOutput(); err != nil {
		t.Errorf("tsc refused the consumer (or accepted a misuse):\n%s", out)
	}

	copyInto(t, app, "react-app/app.jsx")
	esbuild := filepath.Join(app, "node_modules", "esbuild", "bin", "esbuild")
	cmd := exec.Command(esbuild, "app.jsx", "--bundle", "--format=iife", "--jsx=automatic",
		`--define:process.env.NODE_ENV="production"`, "--outfile=app.js", "--log-level=warning")
	cmd.Dir = app
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}
	bundle, err := os.ReadFile(filepath.Join(app, "app.js"))
	if err != nil {
		t.Fatal(err)
	}

	chunks := make([]string, 12)
	for i := range chunks {
		chunks[i] = fmt.Sprintf("part %d. ", i)
	}
	upstream := httptest.NewServer(&fakeModel{chunks: chunks, delay: 80 * time.Millisecond})
	t.Cleanup(upstream.Close)
	var config struct{ WidgetURL, SessionToken string }
	host := serveReactApp(t, bundle, &config)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host,
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model"})
	proxy := newCutProxy(t, s.public) // closes the browser's sockets before the server stops
	caller := devToken(t, s, "demo", "user_alice", "admin")
	first := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	config.WidgetURL, config.SessionToken = proxy.URL()+"/embed?session="+first.SessionID, first.SessionToken

	ctx := startChromium(t, time.Minute)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatal(err)
	}
	frame := frameContext(t, ctx, config.WidgetURL)
	ask := func(q string) {
		t.Helper()
		evalUntil(t, frame, 15*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`, func(v string) bool { return v == "true" })
		if _, err := chromedp.Run(frame, chromedp.Evaluate[string](fmt.Sprintf(`(function () { var i = document.getElementById("cf-input"); i.value = %q; document.getElementById("cf-send").click(); return "sent"; })()`, q))); err != nil {
			t.Fatal(err)
		}
	}
	ask("What is the suspected cause?")
	var states []string
	evalUntil(t, frame, 20*time.Second, "the answer streamed", `(function (e) { return e ? (e.classList.contains("streaming") ? "s" : "d") + e.querySelector(".text").textContent.length : "" })(document.querySelector(".msg.assistant"))`,
		func(v string) bool {
			if v != "" && (len(states) == 0 || states[len(states)-1] != v) {
				states = append(states, v)
			}
			return strings.HasPrefix(v, "d")
		})
	if len(states) < 3 {
		t.Errorf("the answer did not stream: states %v", states)
	}
	if got, _ := chromedp.Run(frame, chromedp.Evaluate[string](`(function (s) { return s.backgroundColor + "|" + s.color })(getComputedStyle(document.querySelector(".msg.user")))`)); got != "rgb(11, 110, 79)|rgb(255, 255, 255)" {
		t.Errorf("the user's bubble %s: want the theme's accent with white text", got)
	}
	if ev, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.cfEvents.join(",")`)); ev != "ready "+first.SessionID {
		t.Errorf("onReady and the other callbacks saw %q, want ready %s alone", ev, first.SessionID)
	}

	// A new sessionToken prop: the same iframe switches to the new session.
	second := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`window.cfFrame = document.querySelector("iframe"); window.cfSetToken(%q); true`, second.SessionToken))); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, frame, 15*time.Second, "the switch to the new session", `document.querySelectorAll(".divider").length + ""`, func(v string) bool { return v == "1" })
	ask("And now?")
	evalUntil(t, frame, 20*time.Second, "the answer on the new session", `document.querySelectorAll(".msg.assistant:not(.streaming):not(.earlier)").length + ""`, func(v string) bool { return v == "1" })
	if same, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`String(document.querySelectorAll("iframe").length === 1 && document.querySelector("iframe") === window.cfFrame)`)); same != "true" {
		t.Error("the component re-created the iframe for a new token")
	}
	if vs := axeScan(t, frame); len(vs) > 0 {
		t.Errorf("axe-core: %d WCAG 2.1 A/AA violations:%s", len(vs), describeViolations(vs))
	}
	png, err := chromedp.Run(ctx, screenshotOf("body"))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "widget-react.png", png)
}

var reactPage = template.Must(template.New("react").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Ops (React)</title>
<style>body { margin: 0; padding: 24px; font: 14px system-ui, sans-serif; background: #e9edf3; }</style></head>
<body><div id="root"></div>
<script>window.cfConfig = { widgetUrl: {{.WidgetURL}}, sessionToken: {{.SessionToken}} };</script>
<script src="/app.js"></script></body></html>`))

// serveReactApp serves the React app's page and bundle on
// http://localhost:PORT, another origin than the widget's; config is read
// when the page is requested.
func serveReactApp(t *testing.T, bundle []byte, config any) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if err := reactPage.Execute(w, config); err != nil {
				t.Errorf("react page: %v", err)
			}
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			_, _ = w.Write(bundle)
		default:
			http.NotFound(w, r)
		}
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}
