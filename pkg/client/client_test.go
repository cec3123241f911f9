package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/client"
)

// TestNoRedirect: a redirect is answered as an unexpected status and never
// followed, so the caller JWT never goes to another URL.
func TestNoRedirect(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer api.Close()
	c, err := client.New(api.URL, client.StaticToken("caller.jwt.secret"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.RevokeSession(t.Context(), "wsess_x")
	var e *client.Error
	if !errors.Is(err, client.ErrUnexpectedStatus) || !errors.As(err, &e) || e.Status != http.StatusTemporaryRedirect {
		t.Errorf("err = %v, want an unexpected 307", err)
	}
	if elsewhere.Load() != 0 {
		t.Error("the redirect was followed: the caller JWT went to another server")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error holds the caller JWT: %v", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, base := range []string{"", "ftp://x", "https://", "https://api.example/?a=1", "https://api.example/#f", "not a url"} {
		if _, err := client.New(base, client.StaticToken("t")); err == nil {
			t.Errorf("New(%q): no error", base)
		}
	}
	if _, err := client.New("https://api.example", nil); err == nil {
		t.Error("New without a TokenSource: no error")
	}
}
