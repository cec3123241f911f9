package main

// The end-to-end harness: startServer runs the real run on 127.0.0.1:0 in a
// goroutine, reads the bound addresses from its "listening" log lines and
// shuts it down on cleanup, insisting that a graceful shutdown returns nil.
// wsctl is a separate program (package main cannot be imported), so the
// tests build it once and run the binary, exactly as an operator would.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"
)

// Bounds of the harness. Generous, because -race on a busy CI machine is
// slow; none of them is a timing assertion, only a limit on waiting.
const (
	startTimeout    = 10 * time.Second
	shutdownTimeout = 20 * time.Second
)

// wsctlBin is the wsctl binary built by TestMain.
var wsctlBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wsctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	wsctlBin = filepath.Join(dir, "wsctl")
	// `go test` puts its own toolchain first on PATH, so this is the go
	// that is running the tests.
	build := exec.Command("go", "build", "-o", wsctlBin, "../wsctl")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ../wsctl: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// wsctl runs the wsctl binary with args and exactly env (nothing from the
// test's own environment), in a temporary working directory so that a
// default path can never land in the repository.
func wsctl(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wsctlBin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// devToken gets a caller JWT the way the README says:
// `wsctl dev-token --tenant T --user U --role R`, sharing the server's
// WIDGET_DEV_IDP_KEY.
func devToken(t *testing.T, s *testServer, tenant, user string, roles ...string) string {
	t.Helper()
	args := []string{"dev-token", "--tenant", tenant, "--user", user}
	for _, r := range roles {
		args = append(args, "--role", r)
	}
	out, errOut, err := wsctl(t, map[string]string{"WIDGET_DEV_IDP_KEY": s.env["WIDGET_DEV_IDP_KEY"]}, args...)
	if err != nil {
		t.Fatalf("wsctl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return strings.TrimSpace(out)
}

// logBuffer collects run's stderr. It is safe for concurrent use and
// watches the JSON lines for the two "listening" addresses.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int               // bytes of buf already split into lines
	addrs   map[string]string // listener name → address
	ready   chan struct{}     // closed once both listeners are known
}

func newLogBuffer() *logBuffer {
	return &logBuffer{addrs: map[string]string{}, ready: make(chan struct{})}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for {
		rest := b.buf.Bytes()[b.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		b.scanned += i + 1
		var line struct{ Msg, Listener, Addr string }
		if json.Unmarshal(rest[:i], &line) == nil && line.Msg == "listening" {
			b.addrs[line.Listener] = line.Addr
			if b.addrs["public"] != "" && b.addrs["internal"] != "" {
				select {
				case <-b.ready:
				default:
					close(b.ready)
				}
			}
		}
	}
	return len(p), nil
}

// String returns everything logged so far.
func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls the log until it contains substr, for at most d.
func (b *logBuffer) waitFor(substr string, d time.Duration) bool {
	return wait.Poll(d, func() bool { return strings.Contains(b.String(), substr) })
}

// testServer is a running run.
type testServer struct {
	public   string // http://host:port of the public listener
	internal string // http://host:port of the internal listener
	env      map[string]string
	log      *logBuffer
	client   *http.Client

	cancel   context.CancelFunc
	done     chan struct{}
	err      error // run's result, once done is closed
	stopOnce sync.Once
}

// startServer runs run with env as its whole environment, plus
// 127.0.0.1:0 listeners, a short shutdown timeout and, when the dev identity
// provider is in use, a WIDGET_DEV_IDP_KEY in t.TempDir() (never the
// repository's .dev/). It returns once both listeners are up and stops the
// server on cleanup, failing the test unless run returns nil.
func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	e := map[string]string{
		"WIDGET_ADDR":             "127.0.0.1:0",
		"WIDGET_INTERNAL_ADDR":    "127.0.0.1:0",
		"WIDGET_SHUTDOWN_TIMEOUT": "5s",
		// Every line at once: tests read the log as requests end.
		// TestBufferedLog covers the buffered default.
		"WIDGET_LOG_FLUSH_INTERVAL": "0",
	}
	if env["WIDGET_CALLER_JWKS"] == "" && env["WIDGET_ENV"] != "live" {
		e["WIDGET_DEV_IDP_KEY"] = filepath.Join(t.TempDir(), "dev-idp.jwks.json")
	}
	for k, v := range env {
		e[k] = v
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{
		env:    e,
		log:    newLogBuffer(),
		client: &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	args := []string{"widget-sessions"}
	go func() {
		defer close(s.done)
		s.err = run(ctx, args, func(k string) string { return e[k] }, io.Discard, s.log)
	}()
	t.Cleanup(func() { s.stop(t) })

	select {
	case <-s.log.ready:
	case <-s.done:
		s.stopOnce.Do(func() {}) // run is over; cleanup has nothing to add
		t.Fatalf("run returned before listening: %v\nlog:\n%s", s.err, s.log)
	case <-time.After(startTimeout):
		t.Fatalf("no \"listening\" lines for both listeners within %v\nlog:\n%s", startTimeout, s.log)
	}
	s.log.mu.Lock()
	s.public, s.internal = "http://"+s.log.addrs["public"], "http://"+s.log.addrs["internal"]
	s.log.mu.Unlock()
	return s
}

// stop shuts the server down and checks that run returned nil. It may be
// called before cleanup, to read the complete log; later calls do nothing.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		s.client.CloseIdleConnections()
		s.cancel()
		select {
		case <-s.done:
			if s.err != nil {
				t.Errorf("run after cancel = %v, want nil (graceful shutdown)\nlog:\n%s", s.err, s.log)
			}
		case <-time.After(shutdownTimeout):
			t.Errorf("run did not return within %v of cancel\nlog:\n%s", shutdownTimeout, s.log)
		}
	})
}

// response is an HTTP response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// code returns the "code" of an error body.
func (r response) code() string {
	var e struct{ Code string }
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

// do sends one request; hdr values are set as given.
func (s *testServer) do(t *testing.T, method, url string, hdr map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// get sends a GET to a URL.
func (s *testServer) get(t *testing.T, url string) response {
	t.Helper()
	return s.do(t, http.MethodGet, url, nil, "")
}

// mint posts body to /v1/widget/sessions with the caller token.
func (s *testServer) mint(t *testing.T, callerToken, body string) response {
	t.Helper()
	return s.do(t, http.MethodPost, s.public+"/v1/widget/sessions", map[string]string{
		"Authorization": "Bearer " + callerToken,
		"Content-Type":  "application/json",
	}, body)
}

// createSessionResponse is the 201 body of a mint.
type createSessionResponse struct {
	SessionID    string `json:"sessionId"`
	SessionToken string `json:"sessionToken"`
	ExpiresAt    string `json:"expiresAt"`
	WidgetURL    string `json:"widgetUrl"`
}

// mintCreated mints and requires 201.
func (s *testServer) mintCreated(t *testing.T, callerToken, body string) createSessionResponse {
	t.Helper()
	r := s.mint(t, callerToken, body)
	if r.status != http.StatusCreated {
		t.Fatalf("mint: status %d, want 201; body %s\nlog:\n%s", r.status, r.body, s.log)
	}
	var out createSessionResponse
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("mint: decoding %s: %v", r.body, err)
	}
	return out
}

// assertNotInLog fails for every secret that appears in the log. Each
// secret is named by what it is, never printed.
func assertNotInLog(t *testing.T, log string, secrets map[string]string) {
	t.Helper()
	for what, secret := range secrets {
		if secret == "" {
			t.Fatalf("secret %q is empty: the check would prove nothing", what)
		}
		if strings.Contains(log, secret) {
			t.Errorf("the log contains %s", what)
		}
	}
}
