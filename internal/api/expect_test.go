package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// What the tests expect of every response, and how they read responses,
// tokens, metrics and logs.

// response is a response read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (f *fixture) do(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := f.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func (f *fixture) get(t testing.TB, path string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f.do(t, req)
}

// mintResponse is the 201 body of the minting endpoint.
type mintResponse struct {
	SessionID    string `json:"sessionId"`
	SessionToken string `json:"sessionToken"`
	ExpiresAt    string `json:"expiresAt"`
	WidgetURL    string `json:"widgetUrl"`
}

// mint mints a session for body as an admin of demo and expects a 201.
func (f *fixture) mint(t testing.TB, body string) mintResponse {
	t.Helper()
	resp := f.do(t, f.mintRequest(t, f.bearer(t), body))
	return decodeCreated(t, resp)
}

func decodeCreated(t testing.TB, resp response) mintResponse {
	t.Helper()
	if resp.Status != http.StatusCreated {
		t.Fatalf("status = %d, want 201; body %s", resp.Status, resp.Body)
	}
	var m mintResponse
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("201 body %s: %v", resp.Body, err)
	}
	return m
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Code      string  `json:"code"`
	Message   string  `json:"message"`
	Field     *string `json:"field"`
	RequestID string  `json:"requestId"`
}

// checkError asserts that resp is an error response of status and code in
// the one shape every error has, and returns its body.
func checkError(t testing.TB, resp response, status int, code string) errorBody {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status = %d, want %d; body %s", resp.Status, status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e errorBody
	dec := json.NewDecoder(bytes.NewReader(resp.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", resp.Body, err)
	}
	if e.Code != code {
		t.Errorf("code = %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if e.Message == "" {
		t.Error("message is empty")
	}
	if id := resp.Header.Get(api.HeaderRequestID); e.RequestID == "" || e.RequestID != id {
		t.Errorf("requestId = %q, X-Request-Id = %q: want equal and not empty", e.RequestID, id)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	return e
}

// decodeJWS returns the decoded header and claims of a compact JWS,
// without verifying it.
func decodeJWS(t testing.TB, compact string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in the JWS, want 3", len(parts))
	}
	decode := func(s string) map[string]any {
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("base64url: %v", err)
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("JWS part %s: %v", raw, err)
		}
		return m
	}
	return decode(parts[0]), decode(parts[1])
}

// mintCount reads widget_sessions_mints_total{result} from the registry.
func mintCount(t testing.TB, reg prometheus.Gatherer, result string) float64 {
	t.Helper()
	return counterValue(t, reg, "widget_sessions_mints_total", map[string]string{"result": result})
}

// counterValue reads the counter name with exactly labels; 0 when absent.
func counterValue(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// logBuffer is where the fixture's logger writes: a buffer safe for the
// server's goroutines and the test's.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	discard bool
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.discard {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *logBuffer) Sync() error { return nil }

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// entries returns every log line, decoded.
func (b *logBuffer) entries(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// withRequestID returns the log entries carrying request id id.
func (b *logBuffer) withRequestID(t testing.TB, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range b.entries(t) {
		if e["request_id"] == id {
			out = append(out, e)
		}
	}
	return out
}

// verifyWith parses a session token's JWS against set, as an independent
// validator would.
func verifyWith(set jwk.Set, sessionToken string) (jwt.Token, error) {
	compact, err := token.Unwrap(token.EnvTest, sessionToken)
	if err != nil {
		return nil, err
	}
	return jwt.ParseString(compact, jwt.WithKeySet(set),
		jwt.WithIssuer(sessionIssuer), jwt.WithAudience(sessionAudience))
}
