package jwks_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
)

// privateKey is an Ed25519 key pair with its kid.
type privateKey struct {
	kid  string
	priv ed25519.PrivateKey
}

// newPrivateKey returns an Ed25519 key pair with kid.
func newPrivateKey(t *testing.T, kid string) privateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return privateKey{kid: kid, priv: priv}
}

// public is k's public JWK.
func (k privateKey) public() *jwks.Key {
	return &jwks.Key{ID: k.kid, Public: k.priv.Public()}
}

// privateJSON is k as a private JWK, as the development identity
// provider writes one: its public members and "d".
func (k privateKey) privateJSON(t *testing.T) json.RawMessage {
	t.Helper()
	var m map[string]string
	b, _ := json.Marshal(k.public())
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["d"] = base64.RawURLEncoding.EncodeToString(k.priv.Seed())
	b, _ = json.Marshal(m)
	return b
}

// setJSON serialises keys as a JWK Set.
func setJSON(t *testing.T, keys ...json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(map[string][]json.RawMessage{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publicSet(t *testing.T, kids ...string) []byte {
	t.Helper()
	keys := make([]json.RawMessage, len(kids))
	for i, kid := range kids {
		keys[i], _ = json.Marshal(newPrivateKey(t, kid).public())
	}
	return setJSON(t, keys...)
}

// provider is a fake identity provider's JWKS endpoint whose answer the
// test changes at will, and which counts its fetches.
type provider struct {
	mu      sync.Mutex
	status  int
	body    []byte
	delay   time.Duration
	fetches atomic.Int64
	srv     *httptest.Server
}

func newProvider(t *testing.T, body []byte) *provider {
	t.Helper()
	p := &provider{status: http.StatusOK, body: body}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		status, body, delay := p.status, p.body, p.delay
		p.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) serve(status int, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body = status, body
}

func (p *provider) setDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// clock is a settable time source for the cooldown.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func startedCache(t *testing.T, source string, opts jwks.Options) *jwks.Cache {
	t.Helper()
	c, err := jwks.New(source, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c
}
