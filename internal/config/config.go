// Package config loads the service's settings from the environment,
// applies defaults and validates them at start-up. Every setting is declared
// once, in the table in settings.go, together with its default and its
// documentation; docs/configuration.md's table is generated from that
// table (`widget-sessions -config-table`) and a test keeps the two equal.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/internal/tenants"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Config is the whole configuration of a widget-sessions process, in
// sections by subject; each section validates its own settings (validate),
// and Config.validate adds the rules that span sections.
type Config struct {
	Env        string // token.EnvLive or token.EnvTest
	Server     Server
	Log        Log
	Keys       Keys
	Token      Token
	Tracing    Tracing
	Caller     Caller
	Sources    Sources
	Mint       Mint
	Roles      Roles
	Revocation Revocation
	Assistant  Assistant
	Edge       Edge
	Tenants    Tenants
	Redis      Redis

	devSettings []string // development settings given explicitly; refused in live
}

// Server is the process: its listeners, what it serves, how it stops.
type Server struct {
	Addr            string
	InternalAddr    string
	Serve           string // "api", "edge" or "both"
	ShutdownTimeout time.Duration
	Pprof           bool           // profiler on the internal listener
	TrustedProxies  []netip.Prefix // WIDGET_TRUSTED_PROXIES, parsed once (ParsePrefixes)
}

// Log is the process's log.
type Log struct {
	Level string
	// FlushInterval bounds how long an info line waits in the log
	// buffer; 0: not buffered.
	FlushInterval time.Duration
	// Audit is the audit trail's sink: "stdout" or a file path.
	Audit string
}

// Keys are the signing keys.
type Keys struct {
	File string // JWK Set file of private keys; "" = ephemeral dev key
	KID  string
	// KIDFile, when set, holds the active kid; it is watched.
	KIDFile string
	// WatchInterval is how often the key files are checked for a change.
	WatchInterval time.Duration
}

// Token is what session tokens carry and how strictly they are read.
type Token struct {
	Issuer    string
	Audience  string
	ClockSkew time.Duration
}

// Tracing is OpenTelemetry's, off unless an OTLP endpoint is set.
type Tracing struct {
	Endpoint       string
	TracesEndpoint string
	Headers        string
	ServiceName    string
	SampleRatio    float64
	Disabled       bool
}

// Caller is how caller JWTs are trusted.
type Caller struct {
	JWKS        string // https URL or file; "" = dev identity provider
	Issuer      string
	Audience    string
	Algorithms  []string
	TenantClaim string
	RolesClaim  string
	Typ         string // required typ header of caller JWTs; "" = not required
	JWKSRefresh time.Duration
	DevIDPKey   string // dev identity provider key file; only without JWKS
}

// Tenants is where each tenant's own settings come from.
type Tenants struct {
	Source   string // WIDGET_TENANTS: a file or an http(s) URL; "": defaults for all
	Token    string
	Interval time.Duration
}

func (t Tenants) validate(p *problems) {
	if t.Interval <= 0 {
		p.add("WIDGET_TENANTS_INTERVAL", "must be positive")
	}
}

// Sources are the user directory and the incident source.
type Sources struct {
	Directory      string // file or http(s) URL; "" = embedded demo directory
	DirectoryToken string
	Incidents      string // file or http(s) URL; "" = embedded demo incidents
	IncidentsToken string
	ContextTTL     time.Duration
}

// Mint is minting's own settings.
type Mint struct {
	RateLimit  int
	RateWindow time.Duration
	URLBase    string // of widgetUrl
}

// Roles are the caller roles with powers beyond a tenant's own.
type Roles struct {
	Ops       string
	Service   string
	OpsTenant string // the only tenant whose callers may hold Ops or Service
}

// Revocation bounds revocations and the mirror.
type Revocation struct {
	RateLimit    int
	RateWindow   time.Duration
	MaxPerTenant int
	MaxEntries   int
	Staleness    time.Duration
	// Region is this deployment's region (WIDGET_REGION); Etcd the
	// revocation store shared by every region (WIDGET_REVOCATION_ETCD),
	// with its TLS files.
	Region                    string
	Etcd                      string
	EtcdCA, EtcdCert, EtcdKey string
}

// EtcdEndpoints returns the members of WIDGET_REVOCATION_ETCD as client
// URLs (https for etcds://), or nil when it is unset.
func (r Revocation) EtcdEndpoints() ([]string, error) {
	if r.Etcd == "" {
		return nil, nil
	}
	scheme, hosts, ok := strings.Cut(r.Etcd, "://")
	var client string
	switch {
	case !ok:
	case scheme == "etcd":
		client = "http://"
	case scheme == "etcds":
		client = "https://"
	}
	if client == "" {
		return nil, errors.New("must be etcd://host:port,host:port,... or etcds:// (TLS)")
	}
	var out []string
	for _, h := range strings.Split(hosts, ",") {
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" || strings.ContainsAny(h, "/?#@") {
			return nil, fmt.Errorf("member %q must be host:port", h)
		}
		out = append(out, client+h)
	}
	return out, nil
}

// region is what a region's name may be: it labels metrics and keys.
var region = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// Assistant is the assistant's upstream and its budget per request.
type Assistant struct {
	URL          string // OpenAI-compatible base URL; "" = the embedded assistant
	Model        string
	APIKey       string
	MaxTokens    int
	HistoryBytes int
	HistoryTurns int
	TokensPerDay int // a tenant's model tokens per UTC day; 0: no budget
}

// Edge is the widget's side: its keys, limits and embedding.
type Edge struct {
	JWKS                 string // the API's JWKS, for an edge-only replica
	MessageRateLimit     int
	MessageRateWindow    time.Duration
	MaxStreamsPerSession int
	MaxStreamsPerClient  int
	MaxReplies           int // assistant replies in flight on a replica
	MaxTenantReplies     int // and of one tenant, unless its settings say
	TenantMaxLogs        int // a tenant's sessions holding an event log; 0: no cap
	TenantMaxLogBytes    int // and their bytes; 0: no cap
	Heartbeat            time.Duration
	TicketTTL            time.Duration
	TicketRateLimit      int
	TicketRateWindow     time.Duration
	SessionRateLimit     int
	SessionRateWindow    time.Duration
	MaxTicketsPerSession int
	EmbedOrigins         []string // host pages allowed to frame the widget
}

// Redis is the shared state's Redis.
type Redis struct {
	URL            string
	RevocationURL  string // its own Redis for revocations; "": URL
	AllowCleartext bool   // live may use redis:// (a private network)
	MinReplicas    int    // replicas a write waits for (WAIT)
	WaitTimeout    time.Duration
}

// ServeAPI reports whether this process serves the minting API.
func (c Config) ServeAPI() bool { return c.Server.Serve == "api" || c.Server.Serve == "both" }

// ServeEdge reports whether this process serves the widget's endpoints.
func (c Config) ServeEdge() bool { return c.Server.Serve == "edge" || c.Server.Serve == "both" }

// DevIDP reports whether the development identity provider is the source of
// caller trust: no caller JWKS is configured.
func (c Config) DevIDP() bool { return c.Caller.JWKS == "" }

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
	if c.Roles.OpsTenant == "" && c.Env != token.EnvLive {
		// The embedded default's operator tenant, so that the README's
		// `wsctl dev-token --tenant causeflow --role ops` works as written.
		// Live names its own (validateLive).
		c.Roles.OpsTenant = DefaultOpsTenant
	}
	if c.Redis.MinReplicas < 0 {
		// Live survives the loss of its master; a development Redis has
		// no replica to wait for.
		c.Redis.MinReplicas = 0
		if c.Env == token.EnvLive {
			c.Redis.MinReplicas = 1
		}
	}
	if c.DevIDP() {
		// The dev identity provider names itself; an explicit setting wins.
		if getenv("WIDGET_CALLER_ISSUER") == "" {
			c.Caller.Issuer = devIssuer
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

// problems collects what is wrong with a configuration, each naming its
// setting.
type problems []error

func (p *problems) add(env, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
}

// window checks the window of a rate limit: Redis expires keys to the
// millisecond.
func (p *problems) window(env string, d time.Duration) {
	if d < time.Millisecond {
		p.add(env, "must be at least 1ms")
	}
}

// validate checks every section, then the rules that span sections.
func (c *Config) validate() error {
	var p problems
	live := c.Env == token.EnvLive
	if !token.ValidEnv(c.Env) {
		p.add("WIDGET_ENV", "must be %q or %q, got %q", token.EnvLive, token.EnvTest, c.Env)
	}
	c.Server.validate(&p)
	c.Log.validate(&p)
	c.Keys.validate(&p)
	c.Token.validate(&p)
	c.Caller.validate(&p)
	c.Sources.validate(&p)
	c.Mint.validate(&p)
	c.Roles.validate(&p)
	c.Revocation.validate(&p)
	c.Assistant.validate(&p)
	c.Edge.validate(&p, live)
	c.Tenants.validate(&p)
	c.Redis.validate(&p, c.Revocation.Etcd)
	if c.Server.Serve == "edge" && c.Edge.JWKS == "" {
		p.add("WIDGET_EDGE_JWKS", "is required with WIDGET_SERVE=edge: an edge validates tokens with the API's published keys")
	}
	if live {
		p = append(p, c.validateLive()...)
	}
	return errors.Join(p...)
}

func (s Server) validate(p *problems) {
	for env, addr := range map[string]string{"WIDGET_ADDR": s.Addr, "WIDGET_INTERNAL_ADDR": s.InternalAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			p.add(env, "must be host:port: %v", err)
		}
	}
	if s.Addr == s.InternalAddr && !strings.HasSuffix(s.Addr, ":0") {
		p.add("WIDGET_INTERNAL_ADDR", "must differ from WIDGET_ADDR: metrics and health stay off the public listener")
	}
	if s.Serve != "api" && s.Serve != "edge" && s.Serve != "both" {
		p.add("WIDGET_SERVE", "must be api, edge or both, got %q", s.Serve)
	}
	if s.ShutdownTimeout <= 0 {
		p.add("WIDGET_SHUTDOWN_TIMEOUT", "must be positive")
	}
}

func (l Log) validate(p *problems) {
	if l.FlushInterval > time.Minute {
		p.add("WIDGET_LOG_FLUSH_INTERVAL", "must be at most 1m: a crash loses what is buffered")
	}
}

func (k Keys) validate(p *problems) {
	if k.WatchInterval <= 0 {
		p.add("WIDGET_KEYS_WATCH_INTERVAL", "must be positive")
	}
	if k.KIDFile != "" && k.File == "" {
		p.add("WIDGET_SIGNING_KID_FILE", "needs WIDGET_SIGNING_KEYS: it names a key of that file")
	}
}

func (t Token) validate(p *problems) {
	if t.Issuer == "" {
		p.add("WIDGET_ISSUER", "must not be empty")
	}
	if t.Audience == "" {
		p.add("WIDGET_AUDIENCE", "must not be empty")
	}
}

func (c Caller) validate(p *problems) {
	if c.Audience == "" {
		p.add("WIDGET_CALLER_AUDIENCE", "must not be empty")
	}
	if c.JWKS != "" && c.Issuer == "" {
		p.add("WIDGET_CALLER_ISSUER", "is required with WIDGET_CALLER_JWKS: a caller JWT's issuer is always checked")
	}
	if c.Typ != "" && strings.ContainsFunc(c.Typ, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		p.add("WIDGET_CALLER_TYP", "must be a media type such as at+jwt")
	}
}

func (s Sources) validate(p *problems) {
	if s.ContextTTL <= 0 {
		p.add("WIDGET_CONTEXT_TTL", "must be positive")
	}
}

func (m Mint) validate(p *problems) {
	if u, err := url.Parse(m.URLBase); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.add("WIDGET_URL_BASE", "must be an absolute http(s) URL without query or fragment")
	}
	p.window("WIDGET_MINT_RATE_WINDOW", m.RateWindow)
}

func (r Roles) validate(p *problems) {
	if r.Ops == "" || r.Service == "" || r.Ops == r.Service ||
		r.Ops == "admin" || r.Ops == "member" || r.Service == "admin" || r.Service == "member" {
		p.add("WIDGET_OPS_ROLE", "and WIDGET_SERVICE_ROLE must be non-empty, distinct, and neither admin nor member")
	}
	if r.OpsTenant != "" {
		if err := widget.ValidateID("WIDGET_OPS_TENANT", r.OpsTenant); err != nil {
			p.add("WIDGET_OPS_TENANT", "must be a tenant id: %v", err)
		}
	}
}

func (r Revocation) validate(p *problems) {
	p.window("WIDGET_REVOCATION_RATE_WINDOW", r.RateWindow)
	if r.MaxEntries < r.MaxPerTenant {
		p.add("WIDGET_REVOCATION_MAX_ENTRIES", "must be at least WIDGET_REVOCATION_MAX_PER_TENANT (%d)", r.MaxPerTenant)
	}
	if r.Staleness <= time.Second {
		p.add("WIDGET_REVOCATION_STALENESS", "must be more than 1s: the mirror polls its store every second")
	}
	if r.Region != "" && !region.MatchString(r.Region) {
		p.add("WIDGET_REGION", "must be 1 to 32 lower-case letters, digits and dashes, starting with a letter or digit")
	}
	if _, err := r.EtcdEndpoints(); err != nil {
		p.add("WIDGET_REVOCATION_ETCD", "%v", err)
	}
	if r.Etcd != "" && r.Region == "" {
		p.add("WIDGET_REGION", "is required with WIDGET_REVOCATION_ETCD: the regions' canaries and metrics name it")
	}
	for env, v := range map[string]string{"WIDGET_ETCD_CA_FILE": r.EtcdCA, "WIDGET_ETCD_CERT_FILE": r.EtcdCert, "WIDGET_ETCD_KEY_FILE": r.EtcdKey} {
		if v != "" && !strings.HasPrefix(r.Etcd, "etcds://") {
			p.add(env, "needs WIDGET_REVOCATION_ETCD=etcds://...")
		}
	}
	if (r.EtcdCert == "") != (r.EtcdKey == "") {
		p.add("WIDGET_ETCD_CERT_FILE", "and WIDGET_ETCD_KEY_FILE go together (a client certificate)")
	}
}

func (a Assistant) validate(p *problems) {
	if a.URL == "" {
		return
	}
	if u, err := url.Parse(a.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.add("WIDGET_ASSISTANT_URL", "must be an http(s) URL")
	}
	if a.Model == "" {
		p.add("WIDGET_ASSISTANT_MODEL", "is required with WIDGET_ASSISTANT_URL")
	}
}

// validate checks the edge's settings; outside live an embedding page may
// be a development machine's http://localhost.
func (e Edge) validate(p *problems, live bool) {
	for _, o := range e.EmbedOrigins {
		if err := tenants.CheckOrigin(o, !live); err != nil {
			p.add("WIDGET_EMBED_ORIGINS", "%q: %v", o, err)
		}
	}
	if e.MessageRateLimit < 1 {
		p.add("WIDGET_MESSAGE_RATE_LIMIT", "must be at least 1")
	}
	if e.MessageRateWindow <= 0 {
		p.add("WIDGET_MESSAGE_RATE_WINDOW", "must be positive")
	}
	if e.MaxStreamsPerSession < 1 {
		p.add("WIDGET_MAX_STREAMS_PER_SESSION", "must be at least 1")
	}
	if e.Heartbeat <= 0 || e.Heartbeat > 15*time.Second {
		p.add("WIDGET_HEARTBEAT", "must be between 1ms and 15s: proxies close idle streams")
	}
	if e.TicketTTL <= 0 || e.TicketTTL > 5*time.Minute {
		p.add("WIDGET_STREAM_TICKET_TTL", "must be positive and at most 5m")
	}
	p.window("WIDGET_STREAM_TICKET_RATE_WINDOW", e.TicketRateWindow)
	p.window("WIDGET_SESSION_RATE_WINDOW", e.SessionRateWindow)
}

func (r Redis) validate(p *problems, etcd string) {
	for env, v := range map[string]string{"WIDGET_REDIS_URL": r.URL, "WIDGET_REVOCATION_REDIS_URL": r.RevocationURL} {
		if v != "" {
			if u, err := url.Parse(v); err != nil || !strings.HasPrefix(u.Scheme, "redis") {
				p.add(env, "must be a redis://, rediss://, redis+cluster:// or rediss+cluster:// URL")
			}
		}
	}
	if r.RevocationURL != "" && r.URL == "" {
		p.add("WIDGET_REVOCATION_REDIS_URL", "needs WIDGET_REDIS_URL: without it every state is in memory")
	}
	if r.RevocationURL != "" && etcd != "" {
		p.add("WIDGET_REVOCATION_REDIS_URL", "is unused with WIDGET_REVOCATION_ETCD: the revocations are on etcd")
	}
	if r.WaitTimeout <= 0 || r.WaitTimeout > 10*time.Second {
		p.add("WIDGET_REDIS_WAIT_TIMEOUT", "must be positive and at most 10s: a request waits for it")
	}
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
		need("WIDGET_SIGNING_KEYS", c.Keys.File, "an in-memory key would change on every restart and differ between replicas")
		need("WIDGET_CALLER_JWKS", c.Caller.JWKS, "the dev identity provider cannot be trusted in live")
		need("WIDGET_DIRECTORY", c.Sources.Directory, "the demo directory cannot be used in live")
	}
	need("WIDGET_INCIDENTS", c.Sources.Incidents, "the demo incidents cannot be used in live")
	need("WIDGET_REDIS_URL", c.Redis.URL, "in-memory revocations die with the process: a restart would bring revoked tokens back")
	for _, env := range c.devSettings {
		errs = append(errs, fmt.Errorf("%s: is a development setting and cannot be set when WIDGET_ENV=live", env))
	}
	need("WIDGET_OPS_TENANT", c.Roles.OpsTenant, "the ops and service roles must belong to the operator's tenant alone")
	// Every outbound URL that carries a credential (a bearer key, a
	// session token, a caller's keys) is https in live: in cleartext
	// anyone on the path could read or change it. A file path is fine.
	for _, u := range []struct{ env, value string }{
		{"WIDGET_CALLER_JWKS", c.Caller.JWKS},
		{"WIDGET_EDGE_JWKS", c.Edge.JWKS},
		{"WIDGET_DIRECTORY", c.Sources.Directory},
		{"WIDGET_INCIDENTS", c.Sources.Incidents},
		{"WIDGET_TENANTS", c.Tenants.Source},
		{"WIDGET_ASSISTANT_URL", c.Assistant.URL},
		{"WIDGET_URL_BASE", c.Mint.URLBase},
	} {
		if cleartext(u.value) {
			errs = append(errs, fmt.Errorf("%s: must be https (or a file) when WIDGET_ENV=live: it carries credentials or session tokens", u.env))
		}
	}
	// The collector's credentials (OTEL_EXPORTER_OTLP_HEADERS) go with
	// every export; an endpoint is a URL, never a file.
	for _, u := range []struct{ env, value string }{
		{"OTEL_EXPORTER_OTLP_ENDPOINT", c.Tracing.Endpoint},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.Tracing.TracesEndpoint},
	} {
		if scheme, _, _ := strings.Cut(u.value, "://"); u.value != "" && !strings.EqualFold(scheme, "https") {
			errs = append(errs, fmt.Errorf("%s: must be an https:// URL when WIDGET_ENV=live: exports carry the collector's credentials", u.env))
		}
	}
	// etcd carries the revocations of every region.
	if c.Revocation.Etcd != "" && !strings.HasPrefix(c.Revocation.Etcd, "etcds://") {
		errs = append(errs, errors.New("WIDGET_REVOCATION_ETCD: must be etcds:// (TLS) when WIDGET_ENV=live: it carries the revocations between regions"))
	}
	// Redis carries its password, the revocation set and its pub/sub, and
	// whole conversations.
	for _, r := range []struct{ env, url string }{{"WIDGET_REDIS_URL", c.Redis.URL}, {"WIDGET_REVOCATION_REDIS_URL", c.Redis.RevocationURL}} {
		if scheme, _, _ := strings.Cut(r.url, "://"); r.url != "" && !c.Redis.AllowCleartext && !strings.HasPrefix(strings.ToLower(scheme), "rediss") {
			errs = append(errs, errors.New(r.env+": must be rediss:// (or rediss+cluster://) when WIDGET_ENV=live: "+
				"Redis carries its password, the revocations and the conversations; set WIDGET_REDIS_ALLOW_CLEARTEXT=true only for a Redis on a private network"))
		}
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
	if c.ServeEdge() && len(c.Server.TrustedProxies) == 0 {
		w = append(w, "WIDGET_TRUSTED_PROXIES is unset on a replica serving the edge: behind an ingress or load balancer every stream's "+
			"client is the proxy, so WIDGET_MAX_STREAMS_PER_CLIENT caps all users behind it together; name the proxies' range")
	}
	if c.ServeAPI() && c.Caller.Typ == "" {
		w = append(w, "WIDGET_CALLER_TYP is unset: caller JWTs of any type are accepted when their claims fit (an ID token, say); "+
			"pin the type your identity provider gives access tokens, such as at+jwt")
	}
	if c.Redis.AllowCleartext && c.Redis.URL != "" && !strings.HasPrefix(strings.ToLower(c.Redis.URL), "rediss") {
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

// ParsePrefixes parses trusted proxies as WIDGET_TRUSTED_PROXIES holds
// them: CIDRs, or single addresses (an IPv4-mapped address counts as its
// IPv4 address). The one parser of the setting.
func ParsePrefixes(proxies []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range proxies {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither an IP nor a CIDR", p)
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		out = append(out, prefix.Masked())
	}
	return out, nil
}
