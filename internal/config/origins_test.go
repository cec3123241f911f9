package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/config"
)

// TestEmbedOrigins: WIDGET_EMBED_ORIGINS holds origins exactly as browsers
// write them, since the widget compares event.origin with them as strings;
// plain http only for a development machine's loopback, and never in live.
func TestEmbedOrigins(t *testing.T) {
	live := liveEnv()
	load := func(envName, origins string) (config.Config, error) {
		m := map[string]string{"WIDGET_EMBED_ORIGINS": origins}
		if envName == "live" {
			for k, v := range live {
				m[k] = v
			}
		}
		return config.Load(env(m))
	}

	c, err := load("test", "")
	if err != nil || len(c.Edge.EmbedOrigins) != 0 {
		t.Fatalf("default: %v, %v; want no origin", c.Edge.EmbedOrigins, err)
	}
	c, err = load("test", " https://app.customer.com, https://admin.customer.com:8443 ,http://localhost:3000,http://127.0.0.1:5173")
	want := []string{"https://app.customer.com", "https://admin.customer.com:8443", "http://localhost:3000", "http://127.0.0.1:5173"}
	if err != nil || !slices.Equal(c.Edge.EmbedOrigins, want) {
		t.Fatalf("Load = %v, %v; want %v", c.Edge.EmbedOrigins, err, want)
	}
	if c, err := load("live", "https://app.customer.com"); err != nil || len(c.Edge.EmbedOrigins) != 1 {
		t.Fatalf("live with an https origin: %v, %v", c.Edge.EmbedOrigins, err)
	}

	for _, tt := range []struct{ env, origin string }{
		{"test", "app.customer.com"},
		{"test", "https://app.customer.com/"},
		{"test", "https://app.customer.com/widget"},
		{"test", "https://app.customer.com?x=1"},
		{"test", "https://app.customer.com#top"},
		{"test", "https://user@app.customer.com"},
		{"test", "https://App.Customer.com"},
		{"test", "https://app.customer.com:0"},
		{"test", "https://app.customer.com:99999"},
		{"test", "https://*.customer.com"},
		{"test", "https://[::1]:443"},
		{"test", "http://app.customer.com"},
		{"test", "ftp://app.customer.com"},
		{"test", "*"},
		{"test", "'self'"},
		{"test", "https://a.com;script-src"},
		{"live", "http://localhost:3000"},
		{"live", "http://127.0.0.1:3000"},
	} {
		t.Run(tt.env+" "+tt.origin, func(t *testing.T) {
			_, err := load(tt.env, tt.origin)
			if err == nil || !strings.Contains(err.Error(), "WIDGET_EMBED_ORIGINS") {
				t.Fatalf("Load(%q) error = %v; want one naming WIDGET_EMBED_ORIGINS", tt.origin, err)
			}
		})
	}
}
