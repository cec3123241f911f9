//go:build browser

package main

import (
	"bytes"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// cutProxy forwards TCP connections to a server and can drop them all at
// once, as a flaky network or a dying load balancer would. It records the
// request line of every request it forwards, kept-alive connections
// included (test code: a ticket in such a line is single-use and already
// spent).
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	lines []string
}

func newCutProxy(t *testing.T, targetURL string) *cutProxy {
	t.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: u.Host}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cutProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		// One goroutine per connection: a browser opens sockets ahead of
		// need, and an idle one must not hold up the next.
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go func() { _, _ = io.Copy(c, up); c.Close() }()
	_, _ = io.Copy(up, io.TeeReader(c, &requestLineWriter{p: p}))
	up.Close()
}

// requestLine is the start of an HTTP/1.1 request.
var requestLine = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S+ HTTP/1\.1$`)

// requestLineWriter sees what a client sends and records the proxy's
// request lines: every CRLF-ended line that has the form of one (the
// widget's bodies are one-line JSON, which never does).
type requestLineWriter struct {
	p       *cutProxy
	partial []byte
}

func (w *requestLineWriter) Write(b []byte) (int, error) {
	w.partial = append(w.partial, b...)
	for {
		i := bytes.Index(w.partial, []byte("\r\n"))
		if i < 0 {
			break
		}
		if line := string(w.partial[:i]); requestLine.MatchString(line) {
			w.p.mu.Lock()
			w.p.lines = append(w.p.lines, line)
			w.p.mu.Unlock()
		}
		w.partial = w.partial[i+2:]
	}
	if len(w.partial) > 64<<10 {
		w.partial = w.partial[len(w.partial)-8<<10:] // a long body line: keep only its tail
	}
	return len(b), nil
}

// cut drops every connection open now.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) requestLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// TestBrowserWidgetReconnects: the network drops the widget's stream; the
// widget reconnects by itself with a fresh ticket and the last event id it
// saw, and the next answer arrives whole, with nothing shown twice.
func TestBrowserWidgetReconnects(t *testing.T) {
	data := &hostPageData{}
	host := startHost(t, data)
	s := startServer(t, map[string]string{"WIDGET_EMBED_ORIGINS": host})
	proxy := newCutProxy(t, s.public)
	caller := devToken(t, s, "demo", "user_alice", "admin")
	m := s.mintCreated(t, caller, `{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`)
	widgetURL := proxy.URL() + "/embed?session=" + m.SessionID
	*data = hostPageData{SDK: proxy.URL() + "/sdk.js", Token: m.SessionToken, WidgetURL: widgetURL}

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(host+"/")); err != nil {
		t.Fatalf("opening the host page: %v", err)
	}
	frame := frameContext(t, ctx, widgetURL)
	evalUntil(t, frame, 10*time.Second, "the input enabled", `String(!document.getElementById("cf-input").disabled)`,
		func(v string) bool { return v == "true" })

	// assistantDone counts the finished assistant messages and user messages.
	const counts = `document.querySelectorAll('.msg.assistant:not(.streaming)').length + "/" + document.querySelectorAll('.msg.assistant').length + "/" + document.querySelectorAll('.msg.user').length`
	ask := func(q string) {
		t.Helper()
		if err := chromedp.Do(frame, chromedp.SetValue(chromedp.CSS("#cf-input"), q)); err != nil {
			t.Fatalf("typing: %v", err)
		}
		if err := chromedp.Do(frame, chromedp.Click(chromedp.CSS("#cf-send"))); err != nil {
			t.Fatalf("sending: %v", err)
		}
	}
	ask("What is the suspected cause?")
	evalUntil(t, frame, 20*time.Second, "the first answer", counts, func(v string) bool { return v == "1/1/1" })

	proxy.cut() // the stream (and every other connection) drops
	// The widget says so, in words, with when it will try again.
	evalUntil(t, frame, 5*time.Second, "the reconnecting notice", `document.getElementById("cf-notice").textContent`,
		func(v string) bool {
			return strings.HasPrefix(v, "Connection lost. Reconnecting in ") || v == "Reconnecting…"
		})
	ask("What are the next steps?")
	evalUntil(t, frame, 30*time.Second, "the second answer after the reconnect", counts, func(v string) bool { return v == "2/2/2" })

	resumed := false
	for _, l := range proxy.requestLines() {
		resumed = resumed || (strings.Contains(l, "/stream?ticket=") && strings.Contains(l, "&lastEventId="))
	}
	if !resumed {
		t.Fatalf("no stream request resumed with a new ticket and lastEventId; first request lines %q", proxy.requestLines())
	}
	second := evalUntil(t, frame, 5*time.Second, "the second answer's text",
		`document.querySelectorAll('.msg.assistant .text')[1].textContent`, func(v string) bool { return v != "" })
	if !strings.Contains(strings.ToLower(second), "next step") {
		t.Errorf("second answer %q does not answer the second question", second)
	}
}
