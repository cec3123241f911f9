// Package config loads the service's settings from the environment,
// applies defaults and validates them at start-up. Every setting is declared
// once, in the table in settings.go, together with its default and its
// documentation; the README's configuration table is generated from that
// table (`widget-sessions -config-table`) and a test keeps the two equal.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Config is the whole configuration of a widget-sessions process.
type Config struct {
	Env          string // token.EnvLive or token.EnvTest
	Addr         string
	InternalAddr string
	LogLevel     string
	// LogFlushInterval bounds how long an info line waits in the log
	// buffer; 0: not buffered.
	LogFlushInterval time.Duration

	SigningKeys string // JWK Set file of private keys; "" = ephemeral dev key
	SigningKID  string
	// SigningKIDFile, when set, holds the active kid; it is watched.
	SigningKIDFile string
	// KeysWatchInterval is how often the key files are checked for a change.
	KeysWatchInterval time.Duration

	// OpenTelemetry tracing, off unless an OTLP endpoint is set.
	OTLPEndpoint       string
	OTLPTracesEndpoint string
	OTLPHeaders        string
	OTelServiceName    string
	TracesSampleRatio  float64
	OTelDisabled       bool
	Issuer             string
	Audience           string

	CallerJWKS        string // https URL or file; "" = dev identity provider
	CallerIssuer      string
	CallerAudience    string
	CallerAlgorithms  []string
	CallerTenantClaim string
	CallerRolesClaim  string
	CallerTyp         string // required typ header of caller JWTs; "" = not required
	CallerJWKSRefresh time.Duration
	ClockSkew         time.Duration
	DevIDPKey         string // dev identity provider key file; only without CallerJWKS

	Directory      string // file or http(s) URL; "" = embedded demo directory
	DirectoryToken string

	MintRateLimit  int
	MintRateWindow time.Duration

	OpsRole     string
	ServiceRole string
	OpsTenant   string // the only tenant whose callers may hold OpsRole or ServiceRole

	RevocationRateLimit    int
	RevocationRateWindow   time.Duration
	RevocationMaxPerTenant int
	RevocationMaxEntries   int

	AssistantURL    string // OpenAI-compatible base URL; "" = the embedded assistant
	AssistantModel  string
	AssistantAPIKey string
	// Budget of one upstream request.
	AssistantMaxTokens    int
	AssistantHistoryBytes int
	AssistantHistoryTurns int

	Serve                string // "api", "edge" or "both"
	EdgeJWKS             string // the API's JWKS, for an edge-only replica
	Incidents            string // file or http(s) URL; "" = embedded demo incidents
	IncidentsToken       string
	ContextTTL           time.Duration
	MessageRateLimit     int
	MessageRateWindow    time.Duration
	MaxStreamsPerSession int
	MaxStreamsPerClient  int
	Heartbeat            time.Duration
	TicketTTL            time.Duration
	TicketRateLimit      int
	TicketRateWindow     time.Duration
	SessionRateLimit     int
	SessionRateWindow    time.Duration
	MaxTicketsPerSession int

	URLBase             string
	EmbedOrigins        []string // host pages allowed to frame the widget
	RedisURL            string
	RedisCleartext      bool // live may use redis:// (a private network)
	RedisMinReplicas    int  // replicas a write waits for (WAIT)
	RedisWaitTimeout    time.Duration
	RevocationStaleness time.Duration
	TrustedProxies      []string

	ShutdownTimeout time.Duration
	Pprof           bool // profiler on the internal listener

	devSettings []string // development settings given explicitly; refused in live
}

// ServeAPI reports whether this process serves the minting API.
func (c Config) ServeAPI() bool { return c.Serve == "api" || c.Serve == "both" }

// ServeEdge reports whether this process serves the widget's endpoints.
func (c Config) ServeEdge() bool { return c.Serve == "edge" || c.Serve == "both" }

// DevIDP reports whether the development identity provider is the source of
// caller trust: no caller JWKS is configured.
func (c Config) DevIDP() bool { return c.CallerJWKS == "" }

// Load reads the configuration through getenv, applies defaults and
// validates it. The error names every setting that is wrong.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings {
		raw, explicit := getenv(s.Env), true
		if raw == "" {
			raw, explicit = s.Default, false
		}
		if err := s.set(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Env, err))
			continue
		}
		if explicit && s.Dev {
			c.devSettings = append(c.devSettings, s.Env)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if c.OpsTenant == "" && c.Env != token.EnvLive {
		// The embedded default's operator tenant, so that the README's
		// `wsctl dev-token --tenant causeflow --role ops` works as written.
		// Live names its own (validateLive).
		c.OpsTenant = DefaultOpsTenant
	}
	if c.RedisMinReplicas < 0 {
		// Live survives the loss of its master; a development Redis has
		// no replica to wait for.
		c.RedisMinReplicas = 0
		if c.Env == token.EnvLive {
			c.RedisMinReplicas = 1
		}
	}
	if c.DevIDP() {
		// The dev identity provider names itself; an explicit setting wins.
		if getenv("WIDGET_CALLER_ISSUER") == "" {
			c.CallerIssuer = devIssuer
		}
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// DefaultOpsTenant is the operator tenant outside live when
// WIDGET_OPS_TENANT is unset.
const DefaultOpsTenant = "causeflow"

// devIssuer mirrors devidp.Issuer; config cannot import devidp (which
// imports jwx) without dragging key handling into configuration, and a test
// in the server package keeps the two equal.
const devIssuer = "https://dev-idp.widget-sessions.invalid"

func (c *Config) validate() error {
	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
	}
	if !token.ValidEnv(c.Env) {
		bad("WIDGET_ENV", "must be %q or %q, got %q", token.EnvLive, token.EnvTest, c.Env)
	}
	for env, addr := range map[string]string{"WIDGET_ADDR": c.Addr, "WIDGET_INTERNAL_ADDR": c.InternalAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(env, "must be host:port: %v", err)
		}
	}
	if c.Addr == c.InternalAddr && !strings.HasSuffix(c.Addr, ":0") {
		bad("WIDGET_INTERNAL_ADDR", "must differ from WIDGET_ADDR: metrics and health stay off the public listener")
	}
	if c.Issuer == "" {
		bad("WIDGET_ISSUER", "must not be empty")
	}
	if c.Audience == "" {
		bad("WIDGET_AUDIENCE", "must not be empty")
	}
	if c.CallerAudience == "" {
		bad("WIDGET_CALLER_AUDIENCE", "must not be empty")
	}
	if c.CallerJWKS != "" && c.CallerIssuer == "" {
		bad("WIDGET_CALLER_ISSUER", "is required with WIDGET_CALLER_JWKS: a caller JWT's issuer is always checked")
	}
	if u, err := url.Parse(c.URLBase); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("WIDGET_URL_BASE", "must be an absolute http(s) URL without query or fragment")
	}
	for _, o := range c.EmbedOrigins {
		if err := checkOrigin(o, c.Env != token.EnvLive); err != nil {
			bad("WIDGET_EMBED_ORIGINS", "%q: %v", o, err)
		}
	}
	if c.RedisURL != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || !strings.HasPrefix(u.Scheme, "redis") {
			bad("WIDGET_REDIS_URL", "must be a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL")
		}
	}
	if c.OpsRole == "" || c.ServiceRole == "" || c.OpsRole == c.ServiceRole ||
		c.OpsRole == "admin" || c.OpsRole == "member" || c.ServiceRole == "admin" || c.ServiceRole == "member" {
		bad("WIDGET_OPS_ROLE", "and WIDGET_SERVICE_ROLE must be non-empty, distinct, and neither admin nor member")
	}
	if c.OpsTenant != "" {
		if err := widget.ValidateID("WIDGET_OPS_TENANT", c.OpsTenant); err != nil {
			bad("WIDGET_OPS_TENANT", "must be a tenant id: %v", err)
		}
	}
	if c.RevocationRateWindow < time.Millisecond || c.TicketRateWindow < time.Millisecond || c.MintRateWindow < time.Millisecond || c.SessionRateWindow < time.Millisecond {
		bad("WIDGET_REVOCATION_RATE_WINDOW", "WIDGET_STREAM_TICKET_RATE_WINDOW, WIDGET_SESSION_RATE_WINDOW and WIDGET_MINT_RATE_WINDOW must be at least 1ms")
	}
	if c.RevocationMaxEntries < c.RevocationMaxPerTenant {
		bad("WIDGET_REVOCATION_MAX_ENTRIES", "must be at least WIDGET_REVOCATION_MAX_PER_TENANT (%d)", c.RevocationMaxPerTenant)
	}
	if c.CallerTyp != "" && strings.ContainsFunc(c.CallerTyp, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		bad("WIDGET_CALLER_TYP", "must be a media type such as at+jwt")
	}
	if c.RedisWaitTimeout <= 0 || c.RedisWaitTimeout > 10*time.Second {
		bad("WIDGET_REDIS_WAIT_TIMEOUT", "must be positive and at most 10s: a request waits for it")
	}
	if c.RevocationStaleness < time.Second {
		bad("WIDGET_REVOCATION_STALENESS", "must be at least 1s: the mirror polls Redis every second")
	}
	switch c.Serve {
	case "api", "both":
	case "edge":
		if c.EdgeJWKS == "" {
			bad("WIDGET_EDGE_JWKS", "is required with WIDGET_SERVE=edge: an edge validates tokens with the API's published keys")
		}
	default:
		bad("WIDGET_SERVE", "must be api, edge or both, got %q", c.Serve)
	}
	if c.AssistantURL != "" {
		if u, err := url.Parse(c.AssistantURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("WIDGET_ASSISTANT_URL", "must be an http(s) URL")
		}
		if c.AssistantModel == "" {
			bad("WIDGET_ASSISTANT_MODEL", "is required with WIDGET_ASSISTANT_URL")
		}
	}
	if c.MessageRateLimit < 1 {
		bad("WIDGET_MESSAGE_RATE_LIMIT", "must be at least 1")
	}
	if c.MaxStreamsPerSession < 1 {
		bad("WIDGET_MAX_STREAMS_PER_SESSION", "must be at least 1")
	}
	if c.Heartbeat <= 0 || c.Heartbeat > 15*time.Second {
		bad("WIDGET_HEARTBEAT", "must be between 1ms and 15s: proxies close idle streams")
	}
	if c.KeysWatchInterval <= 0 {
		bad("WIDGET_KEYS_WATCH_INTERVAL", "must be positive")
	}
	if c.SigningKIDFile != "" && c.SigningKeys == "" {
		bad("WIDGET_SIGNING_KID_FILE", "needs WIDGET_SIGNING_KEYS: it names a key of that file")
	}
	if c.LogFlushInterval > time.Minute {
		bad("WIDGET_LOG_FLUSH_INTERVAL", "must be at most 1m: a crash loses what is buffered")
	}
	if c.TicketTTL <= 0 || c.TicketTTL > 5*time.Minute {
		bad("WIDGET_STREAM_TICKET_TTL", "must be positive and at most 5m")
	}
	if c.MessageRateWindow <= 0 || c.ContextTTL <= 0 {
		bad("WIDGET_MESSAGE_RATE_WINDOW", "and WIDGET_CONTEXT_TTL must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		bad("WIDGET_SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.Env == token.EnvLive {
		errs = append(errs, c.validateLive()...)
	}
	return errors.Join(errs...)
}

// validateLive refuses every development shortcut in the live environment:
// a live process must never mint with a throw-away key, trust the dev
// identity provider or answer from the demo directory.
func (c *Config) validateLive() []error {
	var errs []error
	need := func(env, value, why string) {
		if value == "" {
			errs = append(errs, fmt.Errorf("%s: is required when WIDGET_ENV=live (%s)", env, why))
		}
	}
	if c.ServeAPI() {
		need("WIDGET_SIGNING_KEYS", c.SigningKeys, "an in-memory key would change on every restart and differ between replicas")
		need("WIDGET_CALLER_JWKS", c.CallerJWKS, "the dev identity provider cannot be trusted in live")
		need("WIDGET_DIRECTORY", c.Directory, "the demo directory cannot be used in live")
	}
	need("WIDGET_INCIDENTS", c.Incidents, "the demo incidents cannot be used in live")
	need("WIDGET_REDIS_URL", c.RedisURL, "in-memory revocations die with the process: a restart would bring revoked tokens back")
	for _, env := range c.devSettings {
		errs = append(errs, fmt.Errorf("%s: is a development setting and cannot be set when WIDGET_ENV=live", env))
	}
	need("WIDGET_OPS_TENANT", c.OpsTenant, "the ops and service roles must belong to the operator's tenant alone")
	// Every outbound URL that carries a credential (a bearer key, a
	// session token, a caller's keys) is https in live: in cleartext
	// anyone on the path could read or change it. A file path is fine.
	for _, u := range []struct{ env, value string }{
		{"WIDGET_CALLER_JWKS", c.CallerJWKS},
		{"WIDGET_EDGE_JWKS", c.EdgeJWKS},
		{"WIDGET_DIRECTORY", c.Directory},
		{"WIDGET_INCIDENTS", c.Incidents},
		{"WIDGET_ASSISTANT_URL", c.AssistantURL},
		{"WIDGET_URL_BASE", c.URLBase},
	} {
		if cleartext(u.value) {
			errs = append(errs, fmt.Errorf("%s: must be https (or a file) when WIDGET_ENV=live: it carries credentials or session tokens", u.env))
		}
	}
	// The collector's credentials (OTEL_EXPORTER_OTLP_HEADERS) go with
	// every export; an endpoint is a URL, never a file.
	for _, u := range []struct{ env, value string }{
		{"OTEL_EXPORTER_OTLP_ENDPOINT", c.OTLPEndpoint},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.OTLPTracesEndpoint},
	} {
		if scheme, _, _ := strings.Cut(u.value, "://"); u.value != "" && !strings.EqualFold(scheme, "https") {
			errs = append(errs, fmt.Errorf("%s: must be an https:// URL when WIDGET_ENV=live: exports carry the collector's credentials", u.env))
		}
	}
	// Redis carries its password, the revocation set and its pub/sub, and
	// whole conversations.
	if scheme, _, _ := strings.Cut(c.RedisURL, "://"); c.RedisURL != "" && !c.RedisCleartext && !strings.HasPrefix(strings.ToLower(scheme), "rediss") {
		errs = append(errs, errors.New("WIDGET_REDIS_URL: must be rediss:// (or rediss+cluster://) when WIDGET_ENV=live: "+
			"Redis carries its password, the revocations and the conversations; set WIDGET_REDIS_ALLOW_CLEARTEXT=true only for a Redis on a private network"))
	}
	return errs
}

// Warnings returns what a process should say at start about a
// configuration that loads but is likely wrong where it is deployed.
func (c Config) Warnings() []string {
	if c.Env != token.EnvLive {
		return nil
	}
	var w []string
	if c.ServeEdge() && len(c.TrustedProxies) == 0 {
		w = append(w, "WIDGET_TRUSTED_PROXIES is unset on a replica serving the edge: behind an ingress or load balancer every stream's "+
			"client is the proxy, so WIDGET_MAX_STREAMS_PER_CLIENT caps all users behind it together; name the proxies' range")
	}
	if c.ServeAPI() && c.CallerTyp == "" {
		w = append(w, "WIDGET_CALLER_TYP is unset: caller JWTs of any type are accepted when their claims fit (an ID token, say); "+
			"pin the type your identity provider gives access tokens, such as at+jwt")
	}
	if c.RedisCleartext && c.RedisURL != "" && !strings.HasPrefix(strings.ToLower(c.RedisURL), "rediss") {
		w = append(w, "WIDGET_REDIS_ALLOW_CLEARTEXT=true: Redis's password, the revocations and the conversations cross the network in clear")
	}
	return w
}

// cleartext reports whether a setting names a URL that is not https: any
// "scheme://" other than https. A plain path (a file) is not a URL.
func cleartext(v string) bool {
	scheme, _, ok := strings.Cut(v, "://")
	return ok && !strings.EqualFold(scheme, "https")
}

// checkOrigin accepts a web origin as browsers write it (event.origin, CSP
// frame-ancestors): https://host[:port], lower case, nothing after it. The
// widget trusts a postMessage from exactly these strings, so a near miss
// (a trailing slash, a path) is refused here rather than silently never
// matching. A development machine's own http://localhost or
// http://127.0.0.1 is allowed outside live.
func checkOrigin(o string, loopbackHTTP bool) error {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return errors.New("must be an origin: scheme://host[:port], without path, query or fragment")
	}
	if o != strings.ToLower(o) {
		return errors.New("must be lower case, as browsers write origins")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return errors.New("has an invalid port")
		}
	}
	host := u.Hostname()
	if strings.Trim(host, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return errors.New("must have a DNS name or IPv4 address as its host")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopbackHTTP && (host == "localhost" || host == "127.0.0.1"):
		return nil
	case u.Scheme == "http" && loopbackHTTP:
		return errors.New("must be https (http only for localhost and 127.0.0.1)")
	default:
		return errors.New("must be https")
	}
}
