package jwks_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
)

func TestLastGoodSetKeptOnFailure(t *testing.T) {
	privateSet := setJSON(t, newPrivateKey(t, "k2").privateJSON(t))
	tests := []struct {
		name    string
		status  int
		body    []byte
		wantErr error
	}{
		{"server error", http.StatusInternalServerError, []byte(`oops`), jwks.ErrFetch},
		{"not found", http.StatusNotFound, nil, jwks.ErrFetch},
		{"invalid JSON", http.StatusOK, []byte(`{"keys": [`), jwks.ErrInvalidSet},
		{"not a set", http.StatusOK, []byte(`<html></html>`), jwks.ErrInvalidSet},
		{"empty set", http.StatusOK, []byte(`{"keys": []}`), jwks.ErrInvalidSet},
		{"keys without kid", http.StatusOK, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`), jwks.ErrInvalidSet},
		{"private keys published", http.StatusOK, privateSet, jwks.ErrInvalidSet},
		{"private keys published, the member cased", http.StatusOK, bytes.Replace(privateSet, []byte(`"d":`), []byte(`"D":`), 1), jwks.ErrInvalidSet},
		{"symmetric key published", http.StatusOK, []byte(`{"keys":[{"kty":"oct","kid":"k1","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`), jwks.ErrInvalidSet},
		{"too large", http.StatusOK, make([]byte, 4096), jwks.ErrFetch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, publicSet(t, "k1"))
			clk := newClock()
			var mu sync.Mutex
			var reported []error
			c := startedCache(t, p.srv.URL, jwks.Options{
				AllowInsecureHTTP: true,
				MaxBodyBytes:      2048,
				Now:               clk.Now,
				OnError: func(err error) {
					mu.Lock()
					defer mu.Unlock()
					reported = append(reported, err)
				},
			})
			p.serve(tt.status, tt.body)
			clk.Advance(time.Minute)

			// The miss triggers a refresh that fails...
			if _, err := c.Key(context.Background(), "k2"); !errors.Is(err, jwks.ErrUnknownKey) {
				t.Fatalf("Key(k2) = %v, want ErrUnknownKey", err)
			}
			mu.Lock()
			if len(reported) != 1 || !errors.Is(reported[0], tt.wantErr) {
				t.Fatalf("OnError got %v, want one %v", reported, tt.wantErr)
			}
			mu.Unlock()
			// ...and the last good set is still served.
			if !c.Ready() {
				t.Fatal("Ready() = false after a failed refresh")
			}
			if _, err := c.Key(context.Background(), "k1"); err != nil {
				t.Fatalf("Key(k1) after failed refresh: %v", err)
			}
		})
	}
}

func TestUnavailableUntilFirstSuccess(t *testing.T) {
	p := newProvider(t, nil)
	p.serve(http.StatusServiceUnavailable, nil)
	clk := newClock()
	c, err := jwks.New(p.srv.URL, jwks.Options{AllowInsecureHTTP: true, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Start(ctx); !errors.Is(err, jwks.ErrFetch) {
		t.Fatalf("Start = %v, want ErrFetch", err)
	}
	if c.Ready() {
		t.Fatal("Ready() = true with no set loaded")
	}
	if _, err := c.Key(ctx, "k1"); !errors.Is(err, jwks.ErrUnavailable) || errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("Key before any success = %v, want ErrUnavailable", err)
	}
	// The provider recovers; after the cooldown a lookup loads the set.
	p.serve(http.StatusOK, publicSet(t, "k1"))
	clk.Advance(time.Minute)
	if _, err := c.Key(ctx, "k1"); err != nil {
		t.Fatalf("Key after recovery: %v", err)
	}
	if !c.Ready() {
		t.Fatal("Ready() = false after recovery")
	}
}

func TestFetchTimeout(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	p.setDelay(time.Second)
	c, err := jwks.New(p.srv.URL, jwks.Options{AllowInsecureHTTP: true, Timeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	if err := c.Start(ctx); !errors.Is(err, jwks.ErrFetch) {
		t.Fatalf("Start = %v, want ErrFetch", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Start took %v with a 20ms timeout", d)
	}
}

func TestRedirectToHTTPRefused(t *testing.T) {
	plain := newProvider(t, publicSet(t, "k1"))
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.srv.URL, http.StatusFound))
	defer tlsSrv.Close()
	c, err := jwks.New(tlsSrv.URL, jwks.Options{HTTPClient: tlsSrv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := c.Start(ctx); !errors.Is(err, jwks.ErrFetch) {
		t.Fatalf("Start = %v, want ErrFetch for an https→http redirect", err)
	}
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "jwks.json")
	// A private set, as the development identity provider writes it: a
	// file source keeps only the public halves.
	k1 := newPrivateKey(t, "k1")
	symmetric := []byte(`{"kty":"oct","kid":"s1","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}`)
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	set.Keys = []json.RawMessage{k1.privateJSON(t), symmetric}
	data, _ := json.Marshal(set)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, source := range []string{path, "file://" + path} {
		t.Run(source, func(t *testing.T) {
			clk := newClock()
			c := startedCache(t, source, jwks.Options{Now: clk.Now})
			k, err := c.Key(context.Background(), "k1")
			if err != nil {
				t.Fatalf("Key(k1): %v", err)
			}
			if pub, ok := k.Public.(ed25519.PublicKey); !ok || !pub.Equal(k1.priv.Public()) {
				t.Fatalf("Key(k1) = %T %v; want the public half of k1", k.Public, k.Public)
			}
			if _, err := c.Key(context.Background(), "s1"); !errors.Is(err, jwks.ErrUnknownKey) {
				t.Fatalf("Key(s1) = %v; symmetric keys must be dropped", err)
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		clk := newClock()
		c := startedCache(t, path, jwks.Options{Now: clk.Now})
		if err := os.WriteFile(path, publicSet(t, "k2"), 0o600); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if _, err := c.Key(context.Background(), "k2"); err != nil {
			t.Fatalf("Key(k2) after the file changed: %v", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		c, err := jwks.New(filepath.Join(dir, "nope.json"), jwks.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Key(context.Background(), "k1"); !errors.Is(err, jwks.ErrUnavailable) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Key = %v, want ErrUnavailable wrapping ErrNotExist", err)
		}
	})
}
