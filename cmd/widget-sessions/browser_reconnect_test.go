//go:build browser

package main

import (
	"bufio"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// cutProxy forwards TCP connections to a server and can drop them all at
// once, as a flaky network or a dying load balancer would. It records the
// request line of each connection's first request (test code: a ticket in
// that line is single-use and already spent).
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
	br := bufio.NewReader(c)
	if _, err := br.Peek(1); err == nil { // the request has started: note its first line
		first, _ := br.Peek(br.Buffered())
		line, _, _ := strings.Cut(string(first), "\r\n")
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
	}
	go func() { _, _ = io.Copy(c, up); c.Close() }()
	_, _ = io.Copy(up, br)
	up.Close()
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
	time.Sleep(200 * time.Millisecond)
	ask("What are the next steps?")
	evalUntil(t, frame, 30*time.Second, "the second answer after the reconnect", counts, func(v string) bool { return v == "2/2/2" })

	// Only the first request of each connection is seen (keep-alive
	// carries the rest); the reconnect comes on a new connection.
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
