package config_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/config"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// liveEnv returns a complete live configuration, which loads.
func liveEnv() map[string]string {
	return map[string]string{
		"WIDGET_ENV": "live", "WIDGET_SIGNING_KEYS": "/keys.json", "WIDGET_CALLER_JWKS": "https://idp.example/jwks.json",
		"WIDGET_CALLER_ISSUER": "https://idp.example", "WIDGET_DIRECTORY": "https://dir.internal",
		"WIDGET_REDIS_URL": "rediss://redis.internal:6379/0", "WIDGET_INCIDENTS": "https://incidents.internal",
		"WIDGET_OPS_TENANT": "causeflow",
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Env != "test" || c.Server.Addr != "127.0.0.1:8080" || c.Server.InternalAddr != "127.0.0.1:9090" ||
		c.Mint.URLBase != "https://widget.causeflow.ai" || c.Redis.URL != "" || c.Token.ClockSkew != 30*time.Second ||
		!c.DevIDP() || c.Caller.Issuer != "https://dev-idp.widget-sessions.invalid" ||
		c.Caller.TenantClaim != "tid" || c.Caller.RolesClaim != "roles" || len(c.Server.TrustedProxies) != 0 ||
		c.Roles.OpsTenant != "causeflow" || c.Caller.Typ != "" || c.Edge.MaxTicketsPerSession != 10 || c.Edge.MaxStreamsPerClient != 100 ||
		c.Revocation.RateLimit != 60 || c.Revocation.MaxPerTenant != 10000 || c.Assistant.MaxTokens != 1024 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if strings.Join(c.Caller.Algorithms, ",") != "RS256,ES256,EdDSA" {
		t.Fatalf("algorithms = %v", c.Caller.Algorithms)
	}
}

func TestLoadRejects(t *testing.T) {
	live := liveEnv()
	with := func(base map[string]string, k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	if _, err := config.Load(env(live)); err != nil {
		t.Fatalf("a complete live configuration must load: %v", err)
	}
	for _, ok := range []map[string]string{
		with(with(live, "WIDGET_REDIS_URL", "redis://redis.internal:6379/0"), "WIDGET_REDIS_ALLOW_CLEARTEXT", "true"),
		with(live, "WIDGET_REDIS_URL", "rediss+cluster://redis.internal:6379"),
		with(live, "OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
		with(with(with(live, "WIDGET_REVOCATION_ETCD", "etcds://etcd-eu:2379,etcd-us:2379,etcd-ap:2379"), "WIDGET_REGION", "eu-west"), "WIDGET_ETCD_CA_FILE", "/etc/etcd/ca.pem"),
	} {
		if _, err := config.Load(env(ok)); err != nil {
			t.Errorf("%v must load: %v", ok, err)
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // the setting the error must name
	}{
		{"unknown env", map[string]string{"WIDGET_ENV": "prod"}, "WIDGET_ENV"},
		{"bad addr", map[string]string{"WIDGET_ADDR": "8080"}, "WIDGET_ADDR"},
		{"same addrs", map[string]string{"WIDGET_ADDR": "127.0.0.1:8080", "WIDGET_INTERNAL_ADDR": "127.0.0.1:8080"}, "WIDGET_INTERNAL_ADDR"},
		{"bad level", map[string]string{"WIDGET_LOG_LEVEL": "loud"}, "WIDGET_LOG_LEVEL"},
		{"bad duration", map[string]string{"WIDGET_CLOCK_SKEW": "soon"}, "WIDGET_CLOCK_SKEW"},
		{"bad url base", map[string]string{"WIDGET_URL_BASE": "widget.causeflow.ai"}, "WIDGET_URL_BASE"},
		{"url base with query", map[string]string{"WIDGET_URL_BASE": "https://w.example/?a=1"}, "WIDGET_URL_BASE"},
		{"bad redis", map[string]string{"WIDGET_REDIS_URL": "http://redis"}, "WIDGET_REDIS_URL"},
		{"bad proxy", map[string]string{"WIDGET_TRUSTED_PROXIES": "10.0.0.0/8,nope"}, "WIDGET_TRUSTED_PROXIES"},
		{"jwks without issuer", map[string]string{"WIDGET_CALLER_JWKS": "/jwks.json"}, "WIDGET_CALLER_ISSUER"},
		{"live without keys", with(live, "WIDGET_SIGNING_KEYS", "<unset>"), "WIDGET_SIGNING_KEYS"},
		{"live without idp", with(live, "WIDGET_CALLER_JWKS", "<unset>"), "WIDGET_CALLER_JWKS"},
		{"live without directory", with(live, "WIDGET_DIRECTORY", "<unset>"), "WIDGET_DIRECTORY"},
		{"live without incidents", with(live, "WIDGET_INCIDENTS", "<unset>"), "WIDGET_INCIDENTS"},
		{"edge without jwks", map[string]string{"WIDGET_SERVE": "edge"}, "WIDGET_EDGE_JWKS"},
		{"bad serve", map[string]string{"WIDGET_SERVE": "all"}, "WIDGET_SERVE"},
		{"assistant without a model", map[string]string{"WIDGET_ASSISTANT_URL": "https://api.example/v1"}, "WIDGET_ASSISTANT_MODEL"},
		{"assistant URL not http", map[string]string{"WIDGET_ASSISTANT_URL": "ftp://x", "WIDGET_ASSISTANT_MODEL": "m"}, "WIDGET_ASSISTANT_URL"},
		{"heartbeat over 15s", map[string]string{"WIDGET_HEARTBEAT": "16s"}, "WIDGET_HEARTBEAT"},
		{"bad rate limit", map[string]string{"WIDGET_MESSAGE_RATE_LIMIT": "many"}, "WIDGET_MESSAGE_RATE_LIMIT"},
		{"live without redis", with(live, "WIDGET_REDIS_URL", "<unset>"), "WIDGET_REDIS_URL"},
		{"live with dev idp key", with(live, "WIDGET_DEV_IDP_KEY", ".dev/k.json"), "WIDGET_DEV_IDP_KEY"},
		{"live with http jwks", with(live, "WIDGET_CALLER_JWKS", "http://idp/jwks.json"), "WIDGET_CALLER_JWKS"},
		{"live without an ops tenant", with(live, "WIDGET_OPS_TENANT", "<unset>"), "WIDGET_OPS_TENANT"},
		{"bad ops tenant", map[string]string{"WIDGET_OPS_TENANT": "cause flow"}, "WIDGET_OPS_TENANT"},
		// Live refuses cleartext for every outbound URL that carries a
		// credential or a session token.
		{"live with http directory", with(live, "WIDGET_DIRECTORY", "http://dir.internal"), "WIDGET_DIRECTORY"},
		{"live with http incidents", with(live, "WIDGET_INCIDENTS", "http://incidents.internal"), "WIDGET_INCIDENTS"},
		{"live with http url base", with(live, "WIDGET_URL_BASE", "http://widget.example"), "WIDGET_URL_BASE"},
		{"live with HTTP url base", with(live, "WIDGET_URL_BASE", "HTTP://widget.example"), "WIDGET_URL_BASE"},
		{"live with http assistant", with(with(live, "WIDGET_ASSISTANT_URL", "http://llm.internal/v1"), "WIDGET_ASSISTANT_MODEL", "m"), "WIDGET_ASSISTANT_URL"},
		{"live with http edge jwks", with(with(live, "WIDGET_EDGE_JWKS", "http://api/jwks.json"), "WIDGET_SERVE", "edge"), "WIDGET_EDGE_JWKS"},
		{"live with cleartext redis", with(live, "WIDGET_REDIS_URL", "redis://redis.internal:6379/0"), "WIDGET_REDIS_URL"},
		{"live with cleartext redis cluster", with(live, "WIDGET_REDIS_URL", "redis+cluster://redis.internal:6379"), "WIDGET_REDIS_URL"},
		{"live with http otlp", with(live, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"live with schemeless otlp", with(live, "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"live with http otlp traces", with(live, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"zero ticket limit", map[string]string{"WIDGET_MAX_TICKETS_PER_SESSION": "0"}, "WIDGET_MAX_TICKETS_PER_SESSION"},
		{"zero client streams", map[string]string{"WIDGET_MAX_STREAMS_PER_CLIENT": "0"}, "WIDGET_MAX_STREAMS_PER_CLIENT"},
		{"mirror smaller than a tenant", map[string]string{"WIDGET_REVOCATION_MAX_ENTRIES": "10", "WIDGET_REVOCATION_MAX_PER_TENANT": "11"}, "WIDGET_REVOCATION_MAX_ENTRIES"},
		{"tiny history budget", map[string]string{"WIDGET_ASSISTANT_HISTORY_BYTES": "100"}, "WIDGET_ASSISTANT_HISTORY_BYTES"},
		{"bad caller typ", map[string]string{"WIDGET_CALLER_TYP": "at jwt"}, "WIDGET_CALLER_TYP"},
		{"etcd not a URL", map[string]string{"WIDGET_REVOCATION_ETCD": "etcd-eu:2379", "WIDGET_REGION": "eu"}, "WIDGET_REVOCATION_ETCD"},
		{"etcd http", map[string]string{"WIDGET_REVOCATION_ETCD": "http://etcd-eu:2379", "WIDGET_REGION": "eu"}, "WIDGET_REVOCATION_ETCD"},
		{"etcd member without port", map[string]string{"WIDGET_REVOCATION_ETCD": "etcd://a:2379,b", "WIDGET_REGION": "eu"}, "WIDGET_REVOCATION_ETCD"},
		{"etcd member with a path", map[string]string{"WIDGET_REVOCATION_ETCD": "etcd://a:2379/x", "WIDGET_REGION": "eu"}, "WIDGET_REVOCATION_ETCD"},
		{"etcd without a region", map[string]string{"WIDGET_REVOCATION_ETCD": "etcd://a:2379"}, "WIDGET_REGION"},
		{"bad region", map[string]string{"WIDGET_REGION": "EU West"}, "WIDGET_REGION"},
		{"etcd CA without TLS", map[string]string{"WIDGET_REVOCATION_ETCD": "etcd://a:2379", "WIDGET_REGION": "eu", "WIDGET_ETCD_CA_FILE": "/ca.pem"}, "WIDGET_ETCD_CA_FILE"},
		{"etcd cert without key", map[string]string{"WIDGET_REVOCATION_ETCD": "etcds://a:2379", "WIDGET_REGION": "eu", "WIDGET_ETCD_CERT_FILE": "/c.pem"}, "WIDGET_ETCD_CERT_FILE"},
		{"revocation redis beside etcd", map[string]string{"WIDGET_REDIS_URL": "redis://r:6379", "WIDGET_REVOCATION_REDIS_URL": "redis://rr:6379", "WIDGET_REVOCATION_ETCD": "etcd://a:2379", "WIDGET_REGION": "eu"}, "WIDGET_REVOCATION_REDIS_URL"},
		{"live with cleartext etcd", with(with(live, "WIDGET_REVOCATION_ETCD", "etcd://a:2379"), "WIDGET_REGION", "eu"), "WIDGET_REVOCATION_ETCD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() error = %v; want one naming %s", err, tt.want)
			}
		})
	}
}

// TestWarnings: a live configuration that loads but is likely wrong where
// it runs is said at start; the embedded default says nothing.
func TestWarnings(t *testing.T) {
	live := liveEnv()
	warnings := func(t *testing.T, m map[string]string) string {
		t.Helper()
		c, err := config.Load(env(m))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(c.Warnings(), "\n")
	}
	if w := warnings(t, map[string]string{}); w != "" {
		t.Errorf("the embedded default warns: %s", w)
	}
	w := warnings(t, live)
	for _, want := range []string{"WIDGET_TRUSTED_PROXIES", "WIDGET_CALLER_TYP"} {
		if !strings.Contains(w, want) {
			t.Errorf("live without %s does not warn: %q", want, w)
		}
	}
	live["WIDGET_TRUSTED_PROXIES"], live["WIDGET_CALLER_TYP"] = "10.0.0.0/8", "at+jwt"
	if w := warnings(t, live); w != "" {
		t.Errorf("a pinned live configuration warns: %s", w)
	}
	live["WIDGET_SERVE"], live["WIDGET_EDGE_JWKS"] = "api", "https://api/jwks.json"
	delete(live, "WIDGET_TRUSTED_PROXIES")
	if w := warnings(t, live); w != "" {
		t.Errorf("an API-only replica warns about the edge's proxies: %s", w)
	}
	live["WIDGET_REDIS_URL"], live["WIDGET_REDIS_ALLOW_CLEARTEXT"] = "redis://redis.internal:6379/0", "true"
	if w := warnings(t, live); !strings.Contains(w, "WIDGET_REDIS_ALLOW_CLEARTEXT") {
		t.Errorf("cleartext Redis allowed without a warning: %q", w)
	}
}

// TestConfigurationTable keeps the configuration table (docs/
// configuration.md, which the README links to) equal to the settings the
// code reads: regenerate it with `make config-table`.
func TestConfigurationTable(t *testing.T) {
	readme, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config-table:begin -->\n", "<!-- config-table:end -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/configuration.md has no %q ... %q section", begin, end)
	}
	if got, want := s[i+len(begin):j], config.MarkdownTable(); got != want {
		t.Fatalf("the configuration table is stale; replace it with the output of `make config-table`:\n%s", want)
	}
}

// TestEverySettingReadIsDocumented records every variable Load asks for and
// requires each in the generated table.
func TestEverySettingReadIsDocumented(t *testing.T) {
	asked := map[string]bool{}
	if _, err := config.Load(func(k string) string { asked[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	table := config.MarkdownTable()
	for k := range asked {
		if !strings.Contains(table, "| `"+k+"` |") {
			t.Errorf("Load reads %s, which the configuration table does not document", k)
		}
	}
	if len(asked) < 20 {
		t.Fatalf("Load asked for only %d settings", len(asked))
	}
}

// TestParsePrefixes: WIDGET_TRUSTED_PROXIES is parsed once, here, into the
// prefixes the HTTP layer matches peers against.
func TestParsePrefixes(t *testing.T) {
	got, err := config.ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.7", "::ffff:198.51.100.1", "2001:db8::/32", "10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "198.51.100.1/32", "2001:db8::/32", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("ParsePrefixes = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := config.ParsePrefixes([]string{"nope"}); err == nil {
		t.Error("ParsePrefixes accepted a word")
	}
}
