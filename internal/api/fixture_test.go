package api_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/audit"
	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/devidp"
	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/internal/tenants"
	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Parameters of the session tokens the fixture mints.
const (
	sessionIssuer   = "https://sessions.causeflow.test"
	sessionAudience = "causeflow-widget"
	widgetURLBase   = "https://widget.causeflow.test"
	mintPath        = "/v1/widget/sessions"
	jwksPath        = "/.well-known/jwks.json"
)

// demoDirectory is the embedded default's directory: tenant demo holds
// user_alice and user_bob, tenant acme holds user_carol.
const demoDirectory = `{"tenants": {
	"demo": {"users": ["user_alice", "user_bob"]},
	"acme": {"users": ["user_carol"]}
}}`

var (
	sessionIDPattern = regexp.MustCompile(`^wsess_[0-9A-Za-z]{27}$`)
	requestIDPattern = regexp.MustCompile(`^req_[0-9A-Za-z]{27}$`)
)

// fixture is the public API wired as run wires it, with real parts only:
// the development identity provider's key in a temporary directory, the
// caller authenticator over it, a file directory, an in-memory signing
// key, metrics on a registry of its own and a logger writing JSON into a
// buffer, served over HTTP by the real gin engine.
type fixture struct {
	URL       string
	client    *http.Client
	engine    *gin.Engine
	streams   *stream.Hub // for Drain
	idp       *devidp.IDP
	idpKey    jwk.Key // the identity provider's private key, to forge caller tokens with any claims
	ring      *keys.Ring
	minter    *session.Minter
	incidents *incident.Service
	events    *events.Memory
	chat      *chat.Service
	revs      revocationStore
	reg       *prometheus.Registry
	logs      *logBuffer
}

// fixtureConfig holds what a test may change about the fixture.
type fixtureConfig struct {
	directory    widget.UserDirectory
	keySource    func(idp *devidp.IDP) callerauth.KeySource
	minter       func(real api.Minter) api.Minter
	revs         revocationStore
	discardLogs  bool
	msgLimit     int           // messages per minute per session; default 100
	heartbeat    time.Duration // default 15s
	origins      []string      // the default embed origins (WIDGET_EMBED_ORIGINS); default none
	tenants      string        // a WIDGET_TENANTS document; default none
	audit        *audit.Log    // the audit trail; default none
	revokeLimit  int           // revocation requests per hour per caller tenant; default 1,000,000
	ticketMax    int           // outstanding tickets per session; default ticket.DefaultMaxPerSession
	mintLimit    int           // mints per hour per tenant; default 1,000,000
	tickets      api.Tickets   // default ticket.NewMemory
	eventCap     int           // events a session's log keeps; default events.DefaultMaxLen
	liveness     time.Duration // the stream hub's liveness tick; default 50ms
	sessionLimit int           // session reads and stops per hour per session, each; default 1,000,000
}

func (c fixtureConfig) messageLimit() int {
	if c.msgLimit == 0 {
		return 100
	}
	return c.msgLimit
}

// withMessageLimit sets the per-session message limit.
func withMessageLimit(n int) fixtureOption { return func(c *fixtureConfig) { c.msgLimit = n } }

// withRevokeLimit sets the revocation requests a caller tenant may make
// per hour.
func withRevokeLimit(n int) fixtureOption { return func(c *fixtureConfig) { c.revokeLimit = n } }

// withLiveness sets the stream hub's liveness tick (what fails streams
// closed when revocation state is unknown).
func withLiveness(d time.Duration) fixtureOption { return func(c *fixtureConfig) { c.liveness = d } }

// withEventCap sets how many events a session's log keeps.
func withEventCap(n int) fixtureOption { return func(c *fixtureConfig) { c.eventCap = n } }

// withTickets replaces the ticket store.
func withTickets(tk api.Tickets) fixtureOption { return func(c *fixtureConfig) { c.tickets = tk } }

// withMintLimit sets the sessions a tenant may mint per hour.
func withMintLimit(n int) fixtureOption { return func(c *fixtureConfig) { c.mintLimit = n } }

// withTicketMax sets the outstanding tickets a session may hold.
func withTicketMax(n int) fixtureOption { return func(c *fixtureConfig) { c.ticketMax = n } }

// withSessionLimit sets the reads of GET /v1/widget/session, and the stop
// requests, a session may make per hour, each.
func withSessionLimit(n int) fixtureOption { return func(c *fixtureConfig) { c.sessionLimit = n } }

// withHeartbeat sets the streams' heartbeat interval.
func withHeartbeat(d time.Duration) fixtureOption { return func(c *fixtureConfig) { c.heartbeat = d } }

// anyIncident is an incident source that knows every incident id of every
// tenant, except those starting inc_missing (not found) and inc_down (the
// source is unavailable): tests mint with whatever ids they like.
var anyIncident = incidentSourceFunc(func(_ context.Context, tenant, id string) (incident.Incident, error) {
	switch {
	case strings.HasPrefix(id, "inc_missing"):
		return incident.Incident{}, incident.ErrNotFound
	case strings.HasPrefix(id, "inc_down"):
		return incident.Incident{}, fmt.Errorf("%w: test source down", incident.ErrUnavailable)
	}
	return incident.Incident{
		ID: id, Tenant: tenant, Title: "Incident " + id, Severity: "high", Status: "investigating",
		Services: []string{"checkout-api"}, SuspectedCause: "a bad deploy", NextSteps: []string{"roll back"},
		StartedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
	}, nil
})

type incidentSourceFunc func(ctx context.Context, tenant, id string) (incident.Incident, error)

func (f incidentSourceFunc) Incident(ctx context.Context, tenant, id string) (incident.Incident, error) {
	return f(ctx, tenant, id)
}

// revocationStore records and checks revocations: revoke.Memory, or the
// Redis store in the Redis tests.
type revocationStore interface {
	session.RevocationStore
	verify.RevocationChecker
	stream.Revocations
}

// withRevocations replaces the in-memory revocation store.
func withRevocations(r revocationStore) fixtureOption {
	return func(c *fixtureConfig) { c.revs = r }
}

type fixtureOption func(*fixtureConfig)

// withDirectory replaces the demo directory.
func withDirectory(d widget.UserDirectory) fixtureOption {
	return func(c *fixtureConfig) { c.directory = d }
}

// withMinter puts wrap(real minter) in place of the real minter.
func withMinter(wrap func(real api.Minter) api.Minter) fixtureOption {
	return func(c *fixtureConfig) { c.minter = wrap }
}

// withKeySource makes the authenticator take the identity provider's keys
// from src(idp) instead of the provider itself.
func withKeySource(src func(idp *devidp.IDP) callerauth.KeySource) fixtureOption {
	return func(c *fixtureConfig) { c.keySource = src }
}

// discardLogs encodes logs as usual but keeps none (for benchmarks).
func discardLogs() fixtureOption { return func(c *fixtureConfig) { c.discardLogs = true } }

func newFixture(t testing.TB, opts ...fixtureOption) *fixture {
	t.Helper()
	var cfg fixtureConfig
	for _, o := range opts {
		o(&cfg)
	}
	f := &fixture{reg: prometheus.NewRegistry(), logs: &logBuffer{discard: cfg.discardLogs}}

	keyFile := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
	var err error
	if f.idp, err = devidp.LoadOrCreate(keyFile); err != nil {
		t.Fatal(err)
	}
	f.idpKey = loadPrivateKey(t, keyFile)
	var src callerauth.KeySource = f.idp
	if cfg.keySource != nil {
		src = cfg.keySource(f.idp)
	}
	auth, err := callerauth.New(callerauth.Config{Issuer: devidp.Issuer, Audience: devidp.Audience}, src)
	if err != nil {
		t.Fatal(err)
	}

	dir := cfg.directory
	if dir == nil {
		if dir, err = directory.ParseFile([]byte(demoDirectory)); err != nil {
			t.Fatal(err)
		}
	}
	set, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	f.ring = keys.NewRing(set)
	f.incidents = incident.NewService(anyIncident, nil, time.Minute, zap.NewNop(), nil)
	mintLimiter, err := ratelimit.NewMemory(cmp.Or(cfg.mintLimit, 1_000_000), time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.minter, err = session.New(session.Config{
		Env: token.EnvTest, Issuer: sessionIssuer, Audience: sessionAudience,
		Directory: dir, Signer: f.ring, Incidents: f.incidents, Limiter: mintLimiter,
	})
	if err != nil {
		t.Fatal(err)
	}
	var minter api.Minter = f.minter
	if cfg.minter != nil {
		minter = cfg.minter(f.minter)
	}
	f.revs = cfg.revs
	if f.revs == nil {
		f.revs = revoke.NewMemory(time.Now, revoke.Limits{})
	}
	roles := session.Roles{Ops: "ops", Service: "service", OpsTenant: "causeflow"}
	revokeLimiter, err := ratelimit.NewMemory(cmp.Or(cfg.revokeLimit, 1_000_000), time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ticketLimiter, err := ratelimit.NewMemory(1_000_000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	sessionLimiter, err := ratelimit.NewMemory(cmp.Or(cfg.sessionLimit, 1_000_000), time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	revoker, err := session.NewRevoker(f.revs, revokeLimiter, roles, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := verify.New(verify.Config{Env: token.EnvTest, Issuer: sessionIssuer, Audience: sessionAudience},
		verify.KeyFunc(f.ring.PublicKey), f.revs)
	if err != nil {
		t.Fatal(err)
	}
	introspector, err := session.NewIntrospector(verifier, roles)
	if err != nil {
		t.Fatal(err)
	}
	f.events, err = events.NewMemory(events.MemoryOptions{MaxLen: cfg.eventCap})
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := ratelimit.NewMemory(cfg.messageLimit(), time.Minute, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	f.chat, err = chat.New(chat.Config{
		Log: f.events, Assistant: assistant.NewEmbedded(0), Incidents: f.incidents,
		Limiter: limiter, Stops: &chat.LocalStops{}, Revocations: f.revs, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.chat.Close)
	f.streams, err = stream.NewHub(f.events, f.revs, stream.Config{
		MaxPerSession: 2, Heartbeat: cfg.heartbeat, Liveness: cmp.Or(cfg.liveness, 50*time.Millisecond),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.streams.Close)
	metrics, err := api.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	mintingAPI, err := api.API(api.APIOptions{
		Auth: auth, Minter: minter, Revoker: revoker, Introspector: introspector, Keys: f.ring, Metrics: metrics, WidgetURLBase: widgetURLBase,
	})
	if err != nil {
		t.Fatal(err)
	}
	tickets := cmp.Or[api.Tickets](cfg.tickets, ticket.NewMemory(time.Now, cfg.ticketMax))
	tenantsSource := ""
	if cfg.tenants != "" {
		tenantsSource = filepath.Join(t.TempDir(), "tenants.json")
		if err := os.WriteFile(tenantsSource, []byte(cfg.tenants), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tenantSettings, err := tenants.Open(context.Background(), tenantsSource, tenants.Options{
		Defaults: tenants.Settings{EmbedOrigins: cfg.origins}, LoopbackHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	edge, err := api.Edge(api.EdgeOptions{
		Verifier: verifier, Chat: f.chat, Streams: f.streams, Tickets: tickets,
		TicketLimiter: ticketLimiter, SessionLimiter: sessionLimiter, Incidents: f.incidents, Metrics: metrics,
		TicketTTL: 30 * time.Second, Tenants: tenantSettings,
	})
	if err != nil {
		t.Fatal(err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), f.logs, zapcore.DebugLevel))

	f.engine, err = api.NewServer(api.ServerOptions{Logger: logger, Metrics: metrics, Tracing: noop.NewTracerProvider(), Audit: cfg.audit}, mintingAPI, edge)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.engine)
	t.Cleanup(srv.Close)
	f.URL, f.client = srv.URL, srv.Client()
	return f
}

func loadPrivateKey(t testing.TB, path string) jwk.Key {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := set.Key(0)
	if !ok {
		t.Fatal("dev IdP key file holds no key")
	}
	return key
}

// callerToken returns a caller JWT from the development identity provider.
func (f *fixture) callerToken(t testing.TB, tenant, subject string, roles ...string) string {
	t.Helper()
	tok, err := f.idp.Token(devidp.TokenRequest{Tenant: tenant, Subject: subject, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bearer is an Authorization header for an admin of tenant demo.
func (f *fixture) bearer(t testing.TB) string {
	return "Bearer " + f.callerToken(t, "demo", "admin_dana", widget.RoleAdmin)
}

// callerClaims returns valid caller claims for an admin of tenant demo;
// tests edit their copy before forging a token with them.
func callerClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": devidp.Issuer, "aud": []string{devidp.Audience}, "sub": "admin_dana",
		"tid": "demo", "roles": []string{widget.RoleAdmin},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// forge signs claims with key as an EdDSA JWT whose kid is kid.
func forge(t testing.TB, key any, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{jws.KeyIDKey: kid, jws.TypeKey: "JWT"} {
		if err := hdr.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jws.Sign(payload, jws.WithKey(jwa.EdDSA(), key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// mintRequest is a POST of body to the minting endpoint as JSON, with
// authorization as the Authorization header unless it is empty.
func (f *fixture) mintRequest(t testing.TB, authorization, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL+mintPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req
}

// fakeMinter is an api.Minter made of a function.
type fakeMinter struct {
	mint func(ctx context.Context, caller widget.Caller, req widget.SessionRequest) (widget.Session, error)
}

func (m fakeMinter) Mint(ctx context.Context, caller widget.Caller, req widget.SessionRequest) (widget.Session, error) {
	return m.mint(ctx, caller, req)
}

// keySourceFunc is a callerauth.KeySource made of a function.
type keySourceFunc func(ctx context.Context, kid string) (*jwks.Key, error)

func (f keySourceFunc) Key(ctx context.Context, kid string) (*jwks.Key, error) { return f(ctx, kid) }
