package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// liveSettings returns a complete live configuration with nothing from
// development: a key file, an identity provider's JWKS in a file (live
// refuses http://, and a file needs no TLS in a test) and a directory file.
func liveSettings(t *testing.T) (map[string]string, *testIDP) {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.jwks.json")
	if _, err := keys.AppendToFile(keyFile, token.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	idp := newTestIDP(t, "idp-live-1")
	jwksFile := filepath.Join(dir, "idp.jwks.json")
	pub, err := json.Marshal(idp.public)
	if err != nil {
		t.Fatal(err)
	}
	dirFile := filepath.Join(dir, "directory.json")
	incidentsFile := filepath.Join(dir, "incidents.json")
	for path, data := range map[string][]byte{jwksFile: pub, dirFile: []byte(testDirectory), incidentsFile: []byte(`{"tenants": {}}`)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"WIDGET_ENV":           "live",
		"WIDGET_SIGNING_KEYS":  keyFile,
		"WIDGET_CALLER_JWKS":   jwksFile,
		"WIDGET_CALLER_ISSUER": idp.issuer,
		"WIDGET_DIRECTORY":     dirFile,
		// Refused configurations never connect; the control below swaps in
		// a real redis-server.
		"WIDGET_REDIS_URL": "rediss://127.0.0.1:1/0",
		// The tests' redis-server speaks no TLS; the refusal of redis://
		// without this is its own case below.
		"WIDGET_REDIS_ALLOW_CLEARTEXT": "true",
		"WIDGET_INCIDENTS":             incidentsFile,
		"WIDGET_OPS_TENANT":            "causeflow",
	}, idp
}

// runRefused runs run with env (and 127.0.0.1:0 listeners) and requires it
// to return an error without ever listening.
func runRefused(t *testing.T, env map[string]string) error {
	t.Helper()
	e := map[string]string{"WIDGET_ADDR": "127.0.0.1:0", "WIDGET_INTERNAL_ADDR": "127.0.0.1:0"}
	for k, v := range env {
		e[k] = v
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := newLogBuffer()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"widget-sessions"}, func(k string) string { return e[k] }, io.Discard, log)
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		cancel()
		<-done
		t.Fatalf("run did not refuse to start within %v\nlog:\n%s", startTimeout, log)
	}
	if err == nil {
		t.Fatalf("run = nil, want a configuration error\nlog:\n%s", log)
	}
	if strings.Contains(log.String(), `"listening"`) {
		t.Errorf("run listened before refusing:\n%s", log)
	}
	return err
}

// TestLiveRefusesDevelopmentSettings: WIDGET_ENV=live never starts on the
// embedded default or with a development setting, and names each culprit.
func TestLiveRefusesDevelopmentSettings(t *testing.T) {
	t.Parallel()

	t.Run("nothing configured", func(t *testing.T) {
		err := runRefused(t, map[string]string{"WIDGET_ENV": "live"})
		for _, env := range []string{"WIDGET_SIGNING_KEYS", "WIDGET_CALLER_JWKS", "WIDGET_DIRECTORY", "WIDGET_REDIS_URL", "WIDGET_INCIDENTS"} {
			if !strings.Contains(err.Error(), env) {
				t.Errorf("the error does not name %s: %v", env, err)
			}
		}
	})

	t.Run("everything real but the dev IdP key", func(t *testing.T) {
		env, _ := liveSettings(t)
		devKey := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
		env["WIDGET_DEV_IDP_KEY"] = devKey
		err := runRefused(t, env)
		if !strings.Contains(err.Error(), "WIDGET_DEV_IDP_KEY") {
			t.Errorf("the error does not name WIDGET_DEV_IDP_KEY: %v", err)
		}
		for _, env := range []string{"WIDGET_SIGNING_KEYS", "WIDGET_CALLER_JWKS", "WIDGET_DIRECTORY"} {
			if strings.Contains(err.Error(), env) {
				t.Errorf("the error names %s, which is set properly: %v", env, err)
			}
		}
		if _, err := os.Stat(devKey); err == nil {
			t.Error("a refused live start created the dev IdP key file")
		}
	})

	t.Run("an http:// IdP JWKS", func(t *testing.T) {
		env, _ := liveSettings(t)
		env["WIDGET_CALLER_JWKS"] = "http://idp.test.invalid/jwks.json"
		if err := runRefused(t, env); !strings.Contains(err.Error(), "WIDGET_CALLER_JWKS") {
			t.Errorf("the error does not name WIDGET_CALLER_JWKS: %v", err)
		}
	})

	// Live refuses cleartext for every outbound URL that carries a
	// credential or a session token.
	for _, env := range []string{"WIDGET_DIRECTORY", "WIDGET_INCIDENTS", "WIDGET_ASSISTANT_URL", "WIDGET_URL_BASE"} {
		t.Run("an http:// "+env, func(t *testing.T) {
			settings, _ := liveSettings(t)
			settings[env] = "http://cleartext.test.invalid"
			settings["WIDGET_ASSISTANT_MODEL"] = "m"
			if err := runRefused(t, settings); !strings.Contains(err.Error(), env+": must be https") {
				t.Errorf("the error does not refuse %s in cleartext: %v", env, err)
			}
		})
	}

	t.Run("a redis:// URL without WIDGET_REDIS_ALLOW_CLEARTEXT", func(t *testing.T) {
		settings, _ := liveSettings(t)
		delete(settings, "WIDGET_REDIS_ALLOW_CLEARTEXT")
		settings["WIDGET_REDIS_URL"] = "redis://127.0.0.1:1/0"
		if err := runRefused(t, settings); !strings.Contains(err.Error(), "WIDGET_REDIS_URL: must be rediss://") {
			t.Errorf("the error does not refuse Redis in cleartext: %v", err)
		}
	})

	t.Run("an http:// OTLP endpoint", func(t *testing.T) {
		settings, _ := liveSettings(t)
		settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector.test.invalid:4318"
		if err := runRefused(t, settings); !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT: must be an https:// URL") {
			t.Errorf("the error does not refuse OTLP in cleartext: %v", err)
		}
	})

	t.Run("no operator tenant", func(t *testing.T) {
		settings, _ := liveSettings(t)
		delete(settings, "WIDGET_OPS_TENANT")
		if err := runRefused(t, settings); !strings.Contains(err.Error(), "WIDGET_OPS_TENANT") {
			t.Errorf("the error does not name WIDGET_OPS_TENANT: %v", err)
		}
	})

	t.Run("a Redis that evicts any key", func(t *testing.T) {
		settings, _ := liveSettings(t)
		rds := startRedis(t)
		if err := rds.rdb.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lru").Err(); err != nil {
			t.Fatal(err)
		}
		settings["WIDGET_REDIS_URL"] = rds.url
		if err := runRefused(t, settings); !strings.Contains(err.Error(), "allkeys-lru") {
			t.Errorf("the error does not name the evicting policy: %v", err)
		}
	})

	// The control: the same settings without the dev key do start, so
	// the refusals above are about what they add.
	t.Run("everything real starts and mints live tokens", func(t *testing.T) {
		env, idp := liveSettings(t)
		env["WIDGET_REDIS_URL"] = redistest.Start(t).URL()
		s := startServer(t, env)
		sess := s.mintCreated(t, idp.token(t, "t_prod", "admin_1", "admin"), `{"userId": "u_1"}`)
		if !strings.HasPrefix(sess.SessionToken, "wst_live_") {
			t.Errorf("a live token must start with wst_live_")
		}
		// What is likely wrong behind an ingress is said at start.
		for _, warn := range []string{"WIDGET_TRUSTED_PROXIES is unset", "WIDGET_CALLER_TYP is unset", "WIDGET_REDIS_ALLOW_CLEARTEXT=true"} {
			if !strings.Contains(s.log.String(), warn) {
				t.Errorf("live started without the warning %q\nlog:\n%s", warn, s.log)
			}
		}
	})
}

// TestTenantsUnreadableAtStart: a WIDGET_TENANTS source that does not read
// stops the start, in live and out of it: there is no last good document
// to keep yet, and a tenant's embed origins must not silently fall back to
// the defaults.
func TestTenantsUnreadableAtStart(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(bad, []byte(`{"tenants": {"acme": {"embedOrigins": ["https://a.example/"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	live, _ := liveSettings(t)
	live["WIDGET_TENANTS"] = filepath.Join(t.TempDir(), "missing.json")
	for name, env := range map[string]map[string]string{
		"test, a document that does not read": {"WIDGET_TENANTS": bad, "WIDGET_DEV_IDP_KEY": filepath.Join(t.TempDir(), "idp.json")},
		"live, a missing file":                live,
	} {
		t.Run(name, func(t *testing.T) {
			if err := runRefused(t, env); !strings.Contains(err.Error(), "WIDGET_TENANTS") {
				t.Errorf("the error does not name WIDGET_TENANTS: %v", err)
			}
		})
	}
}
