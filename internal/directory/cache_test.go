package directory_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/directory/directorytest"
)

func TestHTTPCacheTTLs(t *testing.T) {
	srv := newUpstream(t, directorytest.Handler(newFile(t, map[string][]string{"demo": {"user_alice"}})))
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := newHTTP(t, srv.URL, directory.HTTPOptions{Now: clk.Now}) // default TTLs: 60s and 10s

	ask := func(user string, want bool, wantRequests int64) {
		t.Helper()
		got, err := h.UserExists(t.Context(), "demo", user)
		if err != nil || got != want {
			t.Fatalf("UserExists(demo, %s) = %v, %v; want %v, nil", user, got, err, want)
		}
		if n := srv.requests.Load(); n != wantRequests {
			t.Fatalf("after asking for %s: %d requests, want %d", user, n, wantRequests)
		}
	}

	ask("user_alice", true, 1)
	ask("user_alice", true, 1) // a hit: no second request
	ask("user_zed", false, 2)
	ask("user_zed", false, 2)

	clk.Advance(9 * time.Second)
	ask("user_zed", false, 2) // still within the negative TTL
	clk.Advance(time.Second)
	ask("user_zed", false, 3) // 10s: the "no" has expired, the "yes" has not
	ask("user_alice", true, 3)

	clk.Advance(49 * time.Second)
	ask("user_alice", true, 3) // 59s
	clk.Advance(time.Second)
	ask("user_alice", true, 4) // 60s: expired
	ask("user_alice", true, 4) // and remembered afresh

	// The key is the pair: the same user id in another tenant is asked.
	if _, err := h.UserExists(t.Context(), "acme", "user_alice"); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 5 {
		t.Errorf("%d requests, want 5", n)
	}
}

func TestHTTPCustomTTLs(t *testing.T) {
	srv := newUpstream(t, status(http.StatusNotFound))
	clk := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := newHTTP(t, srv.URL, directory.HTTPOptions{Now: clk.Now, NegativeTTL: time.Second})
	for range 2 {
		if _, err := h.UserExists(t.Context(), "demo", "user_zed"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	if _, err := h.UserExists(t.Context(), "demo", "user_zed"); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestHTTPErrorsNotCached(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	srv := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	h := newHTTP(t, srv.URL, directory.HTTPOptions{})

	for range 2 {
		exists, err := h.UserExists(t.Context(), "demo", "user_alice")
		wantUnavailable(t, exists, err)
	}
	fail.Store(false)
	// The outage ends for callers the moment it ends upstream.
	if exists, err := h.UserExists(t.Context(), "demo", "user_alice"); !exists || err != nil {
		t.Fatalf("UserExists = %v, %v; want true, nil", exists, err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (one per failed lookup, then one)", n)
	}
}

func TestHTTPCacheBounded(t *testing.T) {
	srv := newUpstream(t, status(http.StatusOK))
	h := newHTTP(t, srv.URL, directory.HTTPOptions{MaxEntries: 2})
	users := []string{"u1", "u2", "u3"}
	for range 2 {
		for _, u := range users {
			if _, err := h.UserExists(t.Context(), "demo", u); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Three users cannot all be remembered in two entries.
	if n := srv.requests.Load(); n <= 3 {
		t.Errorf("%d requests for 3 users asked twice with room for 2, want more than 3", n)
	}
	// What was just asked is still remembered.
	before := srv.requests.Load()
	if _, err := h.UserExists(t.Context(), "demo", "u3"); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != before {
		t.Errorf("the latest answer was not remembered")
	}
}

// blockingTransport answers every request with 200 once release is closed,
// counting requests. It stands in for the network inside a synctest bubble,
// where goroutines blocked on it count as durably blocked.
type blockingTransport struct {
	release  chan struct{}
	requests atomic.Int64
}

func (b *blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b.requests.Add(1)
	select {
	case <-b.release:
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

func TestHTTPConcurrentLookupsShareOneRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &blockingTransport{release: make(chan struct{})}
		h := newHTTP(t, "http://directory.test", directory.HTTPOptions{Client: &http.Client{Transport: tr}})

		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if ok, err := h.UserExists(context.Background(), "demo", "user_alice"); !ok || err != nil {
					t.Errorf("UserExists = %v, %v; want true, nil", ok, err)
				}
			})
		}
		synctest.Wait() // every lookup is now waiting, none has an answer
		close(tr.release)
		wg.Wait()
		if n := tr.requests.Load(); n != 1 {
			t.Errorf("%d upstream requests for 20 concurrent lookups, want 1", n)
		}
	})
}

func TestHTTPCallerGivingUpDoesNotFailOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &blockingTransport{release: make(chan struct{})}
		h := newHTTP(t, "http://directory.test", directory.HTTPOptions{Client: &http.Client{Transport: tr}})

		// The first caller starts the request, then gives up.
		ctx, cancel := context.WithCancel(context.Background())
		var first error
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, first = h.UserExists(ctx, "demo", "user_alice")
		}()
		synctest.Wait()
		var second bool
		var secondErr error
		joined := make(chan struct{})
		go func() {
			defer close(joined)
			second, secondErr = h.UserExists(context.Background(), "demo", "user_alice")
		}()
		synctest.Wait()

		cancel()
		<-done
		if !errors.Is(first, context.Canceled) {
			t.Errorf("first caller's error = %v, want one wrapping context.Canceled", first)
		}
		wantUnavailable(t, false, first)

		close(tr.release)
		<-joined
		if !second || secondErr != nil {
			t.Errorf("second caller got %v, %v; want true, nil", second, secondErr)
		}
		if n := tr.requests.Load(); n != 1 {
			t.Errorf("%d upstream requests, want 1", n)
		}
	})
}

func TestHTTPTimeoutBoundsSharedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &blockingTransport{release: make(chan struct{})} // never released
		h := newHTTP(t, "http://directory.test", directory.HTTPOptions{
			Client: &http.Client{Transport: tr}, Timeout: 3 * time.Second,
		})
		start := time.Now()
		exists, err := h.UserExists(context.Background(), "demo", "user_alice")
		wantUnavailable(t, exists, err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want one wrapping context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("gave up after %v, want 3s", d)
		}
	})
}
