package lookup_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/lookup"
)

func TestGet(t *testing.T) {
	var gotPath, gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth = r.URL.EscapedPath(), r.Header.Get("Authorization")
		switch {
		case strings.HasSuffix(r.URL.Path, "/moved"):
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/big"):
			_, _ = w.Write([]byte(strings.Repeat("x", 100)))
		case strings.HasSuffix(r.URL.Path, "/none"):
			http.NotFound(w, r)
		default:
			_, _ = w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	c, err := lookup.New("test", srv.URL+"/base/", lookup.Options{Token: "s3cret-token"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	status, body, err := c.Get(ctx, 64, "tenants", "a/b?c#d%", "users", "u 1")
	if err != nil || status != 200 || string(body) != `{"ok":true}` {
		t.Fatalf("Get = %d %q %v", status, body, err)
	}
	if gotPath != "/base/tenants/a%2Fb%3Fc%23d%25/users/u%201" || gotAuth != "Bearer s3cret-token" {
		t.Fatalf("server saw path %q, auth %q", gotPath, gotAuth)
	}
	if status, _, err := c.Get(ctx, 64, "x", "moved"); err != nil || status != http.StatusFound {
		t.Fatalf("a redirect must be answered as it is, never followed: %d %v", status, err)
	}
	if status, _, err := c.Get(ctx, 64, "x", "none"); err != nil || status != http.StatusNotFound {
		t.Fatalf("404: %d %v", status, err)
	}
	if _, _, err := c.Get(ctx, 10, "x", "big"); err == nil {
		t.Fatal("a body over the bound must be an error")
	}
	if status, body, err := c.Get(ctx, 0, "x", "big"); err != nil || status != 200 || body != nil {
		t.Fatalf("status only: %d %q %v", status, body, err)
	}
	for _, id := range []string{"", ".", ".."} {
		if _, _, err := c.Get(ctx, 64, "tenants", id); !errors.Is(err, lookup.ErrNotAddressable) {
			t.Errorf("Get(%q) = %v, want ErrNotAddressable without a request", id, err)
		}
	}
	srv.Close()
	_, _, err = c.Get(ctx, 64, "tenants", "secret-tenant-id")
	if err == nil || strings.Contains(err.Error(), "secret-tenant-id") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("transport error = %v; want one without the path (caller ids) or the token", err)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, base := range []string{"ftp://x", "http://", "http://h/?q=1", "http://h/#f", "::"} {
		if _, err := lookup.New("test", base, lookup.Options{}, 0); err == nil {
			t.Errorf("New(%q) accepted", base)
		}
	}
	if _, err := lookup.New("test", "https://user:pw@h", lookup.Options{Token: "a\nb"}, 0); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("a token with a newline: %v", err)
	}
}
