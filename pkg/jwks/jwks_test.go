package jwks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/internal/wait"

	"github.com/causeflow/widget-sessions/pkg/jwks"
)

func TestNewSources(t *testing.T) {
	tests := []struct {
		name      string
		source    string
		allowHTTP bool
		wantErr   bool
	}{
		{"https", "https://idp.example.com/.well-known/jwks.json", false, false},
		{"http refused", "http://idp.example.com/jwks.json", false, true},
		{"http allowed", "http://127.0.0.1:8080/jwks.json", true, false},
		{"file URL", "file:///etc/idp/jwks.json", false, false},
		{"file URL remote host", "file://otherhost/jwks.json", false, true},
		{"plain path", "testdata/jwks.json", false, false},
		{"empty", "", false, true},
		{"other scheme", "ftp://idp.example.com/jwks.json", false, true},
		{"no host", "https:///jwks.json", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwks.New(tt.source, jwks.Options{AllowInsecureHTTP: tt.allowHTTP})
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%q) error = %v, wantErr %v", tt.source, err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, jwks.ErrInvalidSource) {
				t.Fatalf("error %v is not ErrInvalidSource", err)
			}
		})
	}
}

func TestKeyFoundAfterStart(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1", "k2"))
	c := startedCache(t, p.srv.URL, jwks.Options{AllowInsecureHTTP: true})
	if !c.Ready() {
		t.Fatal("Ready() = false after a successful Start")
	}
	for _, kid := range []string{"k1", "k2"} {
		k, err := c.Key(context.Background(), kid)
		if err != nil {
			t.Fatalf("Key(%s): %v", kid, err)
		}
		if got := k.ID; got != kid {
			t.Fatalf("Key(%s) returned kid %q", kid, got)
		}
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (hits must not fetch)", n)
	}
}

func TestUnknownKidCooldown(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	clk := newClock()
	c := startedCache(t, p.srv.URL, jwks.Options{AllowInsecureHTTP: true, MinRefreshInterval: 30 * time.Second, Now: clk.Now})
	ctx := context.Background()

	// A miss right after Start's fetch does not fetch again.
	if _, err := c.Key(ctx, "k2"); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("Key(k2) = %v, want ErrUnknownKey", err)
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches after a miss within the cooldown of Start = %d, want 1", n)
	}
	// Past the cooldown, a miss refreshes once.
	clk.Advance(31 * time.Second)
	if _, err := c.Key(ctx, "k2"); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("Key(k2) = %v, want ErrUnknownKey", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches after first miss = %d, want 2", n)
	}
	// Within the cooldown, misses do not fetch, even once the provider has the key.
	p.serve(http.StatusOK, publicSet(t, "k1", "k2"))
	clk.Advance(10 * time.Second)
	for range 5 {
		if _, err := c.Key(ctx, "k2"); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Fatalf("Key(k2) in cooldown = %v, want ErrUnknownKey", err)
		}
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches within cooldown = %d, want 2", n)
	}
	// After the cooldown, the next miss fetches and finds the rotated key.
	clk.Advance(21 * time.Second)
	if _, err := c.Key(ctx, "k2"); err != nil {
		t.Fatalf("Key(k2) after cooldown: %v", err)
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("fetches after cooldown = %d, want 3", n)
	}
	// k1 is still published, so still served.
	if _, err := c.Key(ctx, "k1"); err != nil {
		t.Fatalf("Key(k1): %v", err)
	}
}

func TestPeriodicRefresh(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	c := startedCache(t, p.srv.URL, jwks.Options{AllowInsecureHTTP: true, RefreshInterval: 10 * time.Millisecond})
	p.serve(http.StatusOK, publicSet(t, "k2"))
	wait.For(t, "three fetches with a 10ms refresh interval", func() bool { return p.fetches.Load() >= 3 },
		func() string { return fmt.Sprintf("%d fetches", p.fetches.Load()) })
	// The background refresh replaced the set without any miss.
	if _, err := c.Key(context.Background(), "k2"); err != nil {
		t.Fatalf("Key(k2) after background refresh: %v", err)
	}
}

func TestStopsWithContext(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	c, err := jwks.New(p.srv.URL, jwks.Options{AllowInsecureHTTP: true, RefreshInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); !errors.Is(err, jwks.ErrAlreadyStarted) {
		t.Fatalf("second Start = %v, want ErrAlreadyStarted", err)
	}
	cancel()
	time.Sleep(50 * time.Millisecond) // let an in-flight refresh finish
	n := p.fetches.Load()
	time.Sleep(50 * time.Millisecond)
	if m := p.fetches.Load(); m != n {
		t.Fatalf("fetches went on after cancel: %d then %d", n, m)
	}
}

func TestKeyWithoutStartLoadsLazily(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	c, err := jwks.New(p.srv.URL, jwks.Options{AllowInsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Key(context.Background(), "k1"); err != nil {
		t.Fatalf("Key without Start: %v", err)
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	clk := newClock()
	c := startedCache(t, p.srv.URL, jwks.Options{AllowInsecureHTTP: true, Now: clk.Now})
	p.serve(http.StatusOK, publicSet(t, "k1", "k2"))
	p.setDelay(50 * time.Millisecond) // keep the fetch in flight while the others arrive
	clk.Advance(time.Minute)

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := c.Key(context.Background(), "k2")
			errs <- err
		}()
		go func() {
			defer wg.Done()
			kid := "k1"
			if i%2 == 0 {
				kid = "k3" // never published
			}
			_, err := c.Key(context.Background(), kid)
			if kid == "k3" && errors.Is(err, jwks.ErrUnknownKey) {
				err = nil
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Key: %v", err)
		}
	}
	if got := p.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2 (start + one shared refresh)", got)
	}
}

func TestCallerCancelDoesNotFailSharedFetch(t *testing.T) {
	p := newProvider(t, publicSet(t, "k1"))
	clk := newClock()
	c := startedCache(t, p.srv.URL, jwks.Options{AllowInsecureHTTP: true, Now: clk.Now})
	p.serve(http.StatusOK, publicSet(t, "k1", "k2"))
	p.setDelay(50 * time.Millisecond)
	clk.Advance(time.Minute)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := c.Key(ctx, "k2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Key with expiring ctx = %v, want DeadlineExceeded", err)
	}
	// The fetch it started goes on for everyone else.
	if _, err := c.Key(context.Background(), "k2"); err != nil {
		t.Fatalf("Key(k2) after the first caller gave up: %v", err)
	}
}
