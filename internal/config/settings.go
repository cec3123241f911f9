package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// setting declares one environment variable: its default, whether it is a
// development-only setting, its documentation, and how it lands in Config.
type setting struct {
	Env     string
	Default string
	Dev     bool // refused when WIDGET_ENV=live
	Doc     string
	set     func(c *Config, v string) error
}

func str(dst func(c *Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(c *Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("must be a duration such as 30s: %v", err)
		}
		if d < 0 {
			return fmt.Errorf("must not be negative")
		}
		*dst(c) = d
		return nil
	}
}

func integer(min int, dst func(c *Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("must be an integer: %v", err)
		}
		if n < min {
			return fmt.Errorf("must be at least %d", min)
		}
		*dst(c) = n
		return nil
	}
}

func list(dst func(c *Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		*dst(c) = out
		return nil
	}
}

// settings is the single declaration of every setting the service reads.
var settings = []setting{
	{Env: "WIDGET_ENV", Default: "test", Doc: "`live` or `test`. Chooses the session-token prefix (`wst_live_`/`wst_test_`); `live` refuses every development setting and default.",
		set: str(func(c *Config) *string { return &c.Env })},
	{Env: "WIDGET_ADDR", Default: "127.0.0.1:8080", Doc: "Public listener (the API).",
		set: str(func(c *Config) *string { return &c.Server.Addr })},
	{Env: "WIDGET_INTERNAL_ADDR", Default: "127.0.0.1:9090", Doc: "Internal listener: `/healthz`, `/readyz`, `/metrics`.",
		set: str(func(c *Config) *string { return &c.Server.InternalAddr })},
	{Env: "WIDGET_AUDIT_LOG", Default: "stdout", Doc: "The audit trail's sink, apart from the operational log (stderr): `stdout`, or a file appended to (created `0600`). One JSON line per event (`session.created`, the revocations, `response.stopped`, `response.rated`, `caller.refused`, `limit.refused`, `keys.reloaded`), never a token or key; the schema is in [audit](audit.md). Buffered as the log is (`WIDGET_LOG_FLUSH_INTERVAL`), and written out at shutdown.",
		set: func(c *Config, v string) error {
			if v == "" {
				return errors.New("must be stdout or a file path")
			}
			c.Log.Audit = v
			return nil
		}},
	{Env: "WIDGET_LOG_LEVEL", Default: "info", Doc: "`debug`, `info`, `warn` or `error`. Logs are JSON on stderr.",
		set: func(c *Config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.Log.Level = v
				return nil
			}
			return fmt.Errorf("must be debug, info, warn or error, got %q", v)
		}},
	{Env: "WIDGET_LOG_FLUSH_INTERVAL", Default: "1s", Doc: "Logs at `info` and below are buffered and written at least this often (and at 256 KiB), which spares every request a write to stderr; a `warn` or `error` line is written at once, with everything before it, and a shutdown writes all. `0`: every line is written at once.",
		set: dur(func(c *Config) *time.Duration { return &c.Log.FlushInterval })},
	{Env: "WIDGET_SIGNING_KEYS", Doc: "JWK Set file of private signing keys (Ed25519 or P-256), made with `wsctl keys generate`. Reloaded on SIGHUP. Unset: an in-memory key, with a warning (refused in `live`).",
		set: str(func(c *Config) *string { return &c.Keys.File })},
	{Env: "WIDGET_SIGNING_KID", Doc: "`kid` of the active signing key; the other keys are published for verification only. May be unset when the file holds one key.",
		set: str(func(c *Config) *string { return &c.Keys.KID })},
	{Env: "WIDGET_SIGNING_KID_FILE", Doc: "A file holding the `kid` of the active signing key (a Kubernetes Secret or ConfigMap key, say); it overrides `WIDGET_SIGNING_KID` and is watched like the key file, so that the active key changes with no restart. See Keys for the staged rotation.",
		set: str(func(c *Config) *string { return &c.Keys.KIDFile })},
	{Env: "WIDGET_KEYS_WATCH_INTERVAL", Default: "10s", Doc: "How often the key file (and the kid file) are checked for a change, which is then loaded as SIGHUP would: a file mounted from a Secret changes in place. A file that does not load is refused and the current keys kept.",
		set: dur(func(c *Config) *time.Duration { return &c.Keys.WatchInterval })},
	{Env: "OTEL_EXPORTER_OTLP_ENDPOINT", Doc: "OpenTelemetry: the OTLP/HTTP collector's base URL (traces go to `<url>/v1/traces`). Traces are off unless this or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set. `https://` in `live`.",
		set: str(func(c *Config) *string { return &c.Tracing.Endpoint })},
	{Env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", Doc: "OpenTelemetry: the full URL traces are sent to, over OTLP/HTTP (protobuf); wins over `OTEL_EXPORTER_OTLP_ENDPOINT`. `https://` in `live`.",
		set: str(func(c *Config) *string { return &c.Tracing.TracesEndpoint })},
	{Env: "OTEL_EXPORTER_OTLP_HEADERS", Doc: "OpenTelemetry: headers sent with every export, `key=value` pairs separated by commas (values URL-encoded), for a collector's credentials. Never logged.",
		set: str(func(c *Config) *string { return &c.Tracing.Headers })},
	{Env: "OTEL_SERVICE_NAME", Default: "widget-sessions", Doc: "OpenTelemetry: the `service.name` of the spans.",
		set: str(func(c *Config) *string { return &c.Tracing.ServiceName })},
	{Env: "OTEL_TRACES_SAMPLER_ARG", Default: "1", Doc: "OpenTelemetry: the share of new traces sampled, 0 to 1; a request that arrives with a W3C `traceparent` from a proxy of `WIDGET_TRUSTED_PROXIES` (the gateway) follows its caller's decision (parent-based); from anyone else the header is ignored, so that a public client can neither force exports nor choose trace ids.",
		set: func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				return fmt.Errorf("must be a number from 0 to 1, got %q", v)
			}
			c.Tracing.SampleRatio = f
			return nil
		}},
	{Env: "OTEL_SDK_DISABLED", Default: "false", Doc: "OpenTelemetry: `true` turns tracing off whatever else is set.",
		set: boolean(func(c *Config) *bool { return &c.Tracing.Disabled })},
	{Env: "WIDGET_ISSUER", Default: "https://sessions.causeflow.ai", Doc: "`iss` of session tokens.",
		set: str(func(c *Config) *string { return &c.Token.Issuer })},
	{Env: "WIDGET_AUDIENCE", Default: "causeflow-widget", Doc: "`aud` of session tokens.",
		set: str(func(c *Config) *string { return &c.Token.Audience })},
	{Env: "WIDGET_CALLER_JWKS", Doc: "The identity provider's JWKS for caller JWTs: an `https://` URL (cached, refreshed, refetched on an unknown `kid`) or a file. Unset: the development identity provider (refused in `live`).",
		set: str(func(c *Config) *string { return &c.Caller.JWKS })},
	{Env: "WIDGET_CALLER_ISSUER", Doc: "Required `iss` of caller JWTs. Required with `WIDGET_CALLER_JWKS`; defaults to the development identity provider's issuer without it.",
		set: str(func(c *Config) *string { return &c.Caller.Issuer })},
	{Env: "WIDGET_CALLER_AUDIENCE", Default: "widget-sessions", Doc: "Required `aud` of caller JWTs.",
		set: str(func(c *Config) *string { return &c.Caller.Audience })},
	{Env: "WIDGET_CALLER_ALGS", Default: "RS256,ES256,EdDSA", Doc: "Allow-list of caller JWT algorithms (asymmetric only; `none` and HMAC are refused).",
		set: list(func(c *Config) *[]string { return &c.Caller.Algorithms })},
	{Env: "WIDGET_CALLER_TENANT_CLAIM", Default: "tid", Doc: "Caller JWT claim holding the tenant id.",
		set: str(func(c *Config) *string { return &c.Caller.TenantClaim })},
	{Env: "WIDGET_CALLER_ROLES_CLAIM", Default: "roles", Doc: "Caller JWT claim holding the roles (an array of strings, or one string).",
		set: str(func(c *Config) *string { return &c.Caller.RolesClaim })},
	{Env: "WIDGET_CALLER_TYP", Doc: "When set, the `typ` header every caller JWT must carry (for example `at+jwt`, RFC 9068; compared case-insensitively, `application/` optional). Unset: `typ` is not required, but a token of a type meant for something else is still refused by its claims.",
		set: str(func(c *Config) *string { return &c.Caller.Typ })},
	{Env: "WIDGET_CALLER_JWKS_REFRESH", Default: "5m", Doc: "How often the caller JWKS is refetched.",
		set: dur(func(c *Config) *time.Duration { return &c.Caller.JWKSRefresh })},
	{Env: "WIDGET_CLOCK_SKEW", Default: "30s", Doc: "Leeway on `exp`/`nbf`/`iat` of caller JWTs and session tokens; revocation entries outlive the tokens they match by this much.",
		set: dur(func(c *Config) *time.Duration { return &c.Token.ClockSkew })},
	{Env: "WIDGET_DEV_IDP_KEY", Default: ".dev/dev-idp.jwks.json", Dev: true, Doc: "Key file of the development identity provider, created when missing and shared with `wsctl dev-token`. Where the default cannot be created (a read-only root filesystem, as `podman run --read-only -e WIDGET_ENV=test`), both use `$TMPDIR/widget-sessions-dev/dev-idp.jwks.json` instead. Used only without `WIDGET_CALLER_JWKS`; setting it in `live` is refused.",
		set: str(func(c *Config) *string { return &c.Caller.DevIDPKey })},
	{Env: "WIDGET_DIRECTORY", Doc: "User directory: a JSON file (tenants → users) or an `http(s)://` base URL serving `GET {base}/tenants/{tenantId}/users/{userId}`. Unset: the embedded demo directory (refused in `live`).",
		set: str(func(c *Config) *string { return &c.Sources.Directory })},
	{Env: "WIDGET_DIRECTORY_TOKEN", Doc: "Bearer token sent to an HTTP user directory. Never logged.",
		set: str(func(c *Config) *string { return &c.Sources.DirectoryToken })},
	{Env: "WIDGET_MINT_RATE_LIMIT", Default: "6000", Doc: "Sessions one tenant may mint per `WIDGET_MINT_RATE_WINDOW` on one replica (counted in memory: minting is the hot path, and a shared count would cost every mint a Redis round trip); past it, 429 `rate_limited` with `Retry-After`.",
		set: integer(1, func(c *Config) *int { return &c.Mint.RateLimit })},
	{Env: "WIDGET_MINT_RATE_WINDOW", Default: "1m", Doc: "The window of `WIDGET_MINT_RATE_LIMIT`.",
		set: dur(func(c *Config) *time.Duration { return &c.Mint.RateWindow })},
	{Env: "WIDGET_OPS_ROLE", Default: "ops", Doc: "Caller role that may revoke in any tenant (`tenantId` query parameter) and revoke whole tenants.",
		set: str(func(c *Config) *string { return &c.Roles.Ops })},
	{Env: "WIDGET_OPS_TENANT", Doc: "The one tenant (the operator's) whose callers may hold `WIDGET_OPS_ROLE` and `WIDGET_SERVICE_ROLE`: those roles in a caller token of any other tenant give no power at all (403). Required in `live`; unset outside `live`, it is `causeflow` (the README's `wsctl dev-token --tenant causeflow`).",
		set: str(func(c *Config) *string { return &c.Roles.OpsTenant })},
	{Env: "WIDGET_SERVICE_ROLE", Default: "service", Doc: "Caller role that may introspect session tokens (the API gateway).",
		set: str(func(c *Config) *string { return &c.Roles.Service })},
	{Env: "WIDGET_SERVE", Default: "both", Doc: "`api` (mint, revoke, introspect, JWKS), `edge` (the widget's endpoints: session, messages, stream) or `both`. One image; scale edge replicas apart from API replicas.",
		set: str(func(c *Config) *string { return &c.Server.Serve })},
	{Env: "WIDGET_EDGE_JWKS", Doc: "For `WIDGET_SERVE=edge`: the API's JWKS (`https://.../.well-known/jwks.json` or a file), cached and refreshed; the edge validates session tokens locally with it.",
		set: str(func(c *Config) *string { return &c.Edge.JWKS })},
	{Env: "WIDGET_INCIDENTS", Doc: "Incident source: a JSON file (tenants → incidents) or an `http(s)://` base URL serving `GET {base}/tenants/{tenantId}/incidents/{incidentId}`. Unset: the embedded demo incidents (refused in `live`).",
		set: str(func(c *Config) *string { return &c.Sources.Incidents })},
	{Env: "WIDGET_INCIDENTS_TOKEN", Doc: "Bearer token sent to an HTTP incident source. Never logged.",
		set: str(func(c *Config) *string { return &c.Sources.IncidentsToken })},
	{Env: "WIDGET_CONTEXT_TTL", Default: "5m", Doc: "How long an incident's context is served from the cache (each replica's, and Redis when configured) before the source is asked again: the most a context can be out of date.",
		set: dur(func(c *Config) *time.Duration { return &c.Sources.ContextTTL })},
	{Env: "WIDGET_ASSISTANT_URL", Doc: "An OpenAI-compatible server for the assistant: `POST {url}/chat/completions` with `stream: true` (e.g. `https://api.openai.com/v1`, or a vLLM/Ollama endpoint). The incident context goes as JSON data in a system message of its own, the conversation (within the budget below) into the messages. Unset: the embedded assistant, which answers from the incident context.",
		set: str(func(c *Config) *string { return &c.Assistant.URL })},
	{Env: "WIDGET_ASSISTANT_MODEL", Doc: "The model to ask; required with `WIDGET_ASSISTANT_URL`.",
		set: str(func(c *Config) *string { return &c.Assistant.Model })},
	{Env: "WIDGET_ASSISTANT_API_KEY", Doc: "Bearer key for `WIDGET_ASSISTANT_URL`. Never logged.",
		set: str(func(c *Config) *string { return &c.Assistant.APIKey })},
	{Env: "WIDGET_ASSISTANT_MAX_TOKENS", Default: "1024", Doc: "`max_tokens` of every request to `WIDGET_ASSISTANT_URL`: the longest answer the upstream may bill for.",
		set: integer(1, func(c *Config) *int { return &c.Assistant.MaxTokens })},
	{Env: "WIDGET_ASSISTANT_HISTORY_BYTES", Default: "24576", Doc: "Most bytes of conversation sent upstream with a question; older turns are dropped first (the question itself is always sent).",
		set: integer(4096, func(c *Config) *int { return &c.Assistant.HistoryBytes })},
	{Env: "WIDGET_ASSISTANT_HISTORY_TURNS", Default: "20", Doc: "Most messages of conversation sent upstream with a question, the question included; older turns are dropped first.",
		set: integer(1, func(c *Config) *int { return &c.Assistant.HistoryTurns })},
	{Env: "WIDGET_MESSAGE_RATE_LIMIT", Default: "10", Doc: "Messages a session may send per `WIDGET_MESSAGE_RATE_WINDOW` (shared by every replica with Redis); past it, 429 with `Retry-After`.",
		set: integer(1, func(c *Config) *int { return &c.Edge.MessageRateLimit })},
	{Env: "WIDGET_MESSAGE_RATE_WINDOW", Default: "1m", Doc: "The window of `WIDGET_MESSAGE_RATE_LIMIT`.",
		set: dur(func(c *Config) *time.Duration { return &c.Edge.MessageRateWindow })},
	{Env: "WIDGET_MAX_STREAMS_PER_SESSION", Default: "5", Doc: "Open streams a session may hold on one replica; past it, 429 `too_many_streams` (a stream whose client has left is evicted first).",
		set: integer(1, func(c *Config) *int { return &c.Edge.MaxStreamsPerSession })},
	{Env: "WIDGET_MAX_REPLIES", Default: "200", Doc: "Assistant replies one replica runs at once, whatever their tenants; past it, a message is refused before it is accepted (429 `too_many_replies`, `Retry-After: 1`). Each reply holds an upstream request for up to two minutes.",
		set: integer(1, func(c *Config) *int { return &c.Edge.MaxReplies })},
	{Env: "WIDGET_MAX_REPLIES_PER_TENANT", Default: "20", Doc: "Assistant replies one tenant's sessions may have running at once on one replica (a tenant's `maxRepliesInFlight` in `WIDGET_TENANTS` replaces it); past it, 429 `too_many_replies`. One tenant's users cannot take every reply slot of a replica.",
		set: integer(1, func(c *Config) *int { return &c.Edge.MaxTenantReplies })},
	{Env: "WIDGET_MODEL_TOKENS_PER_DAY", Default: "0", Doc: "Model tokens (prompt and completion, as the upstream reports them in each reply's `usage`) one tenant may spend per UTC day, counted by every replica together (in Redis, or in process without it); a tenant's `modelTokensPerDay` in `WIDGET_TENANTS` replaces it. Past it, a message is refused before it is accepted (429 `model_budget_exhausted`, `Retry-After` until midnight UTC). `0`: no budget. Replies already running may take a tenant a little past it; a new one never starts.",
		set: integer(0, func(c *Config) *int { return &c.Assistant.TokensPerDay })},
	{Env: "WIDGET_TENANT_MAX_LOGS", Default: "10000", Doc: "Sessions of one tenant that may hold a conversation (an event log) at once, counted by every replica together; a tenant's `maxStoredSessions` in `WIDGET_TENANTS` replaces it. A log stops counting when its session expires. Past it, a message of a new session is refused before it is accepted (429 `storage_quota_exceeded`). `0`: no cap.",
		set: integer(0, func(c *Config) *int { return &c.Edge.TenantMaxLogs })},
	{Env: "WIDGET_TENANT_MAX_LOG_BYTES", Default: "268435456", Doc: "Bytes one tenant's live conversations may hold (its users' messages and the replies, as written), counted by every replica together; a tenant's `maxStoredBytes` replaces it. Past it, a message is refused before it is accepted (429 `storage_quota_exceeded`), so that one tenant cannot fill Redis for all. `0`: no cap.",
		set: integer(0, func(c *Config) *int { return &c.Edge.TenantMaxLogBytes })},
	{Env: "WIDGET_MAX_STREAMS_PER_CLIENT", Default: "100", Doc: "Open streams one client address may hold on one replica, whatever its sessions; past it, 429 `too_many_streams`. The address is the peer's, or the one `WIDGET_TRUSTED_PROXIES` vouch for.",
		set: integer(1, func(c *Config) *int { return &c.Edge.MaxStreamsPerClient })},
	{Env: "WIDGET_HEARTBEAT", Default: "15s", Doc: "Interval of the SSE heartbeat comment (at most 15s), which keeps proxies from closing an idle stream; one ticker per replica pings every stream, and a failed ping is how a stream finds out its client left.",
		set: dur(func(c *Config) *time.Duration { return &c.Edge.Heartbeat })},
	{Env: "WIDGET_STREAM_TICKET_TTL", Default: "30s", Doc: "Lifetime of a single-use stream ticket (for `EventSource`, which cannot send headers).",
		set: dur(func(c *Config) *time.Duration { return &c.Edge.TicketTTL })},
	{Env: "WIDGET_STREAM_TICKET_RATE_LIMIT", Default: "30", Doc: "Stream tickets a session may get per `WIDGET_STREAM_TICKET_RATE_WINDOW` (shared by every replica with Redis); past it, 429 `rate_limited` with `Retry-After`.",
		set: integer(1, func(c *Config) *int { return &c.Edge.TicketRateLimit })},
	{Env: "WIDGET_STREAM_TICKET_RATE_WINDOW", Default: "1m", Doc: "The window of `WIDGET_STREAM_TICKET_RATE_LIMIT`.",
		set: dur(func(c *Config) *time.Duration { return &c.Edge.TicketRateWindow })},
	{Env: "WIDGET_SESSION_RATE_LIMIT", Default: "60", Doc: "Reads of `GET /v1/widget/session`, stop requests, and ratings of answers, a session may make per `WIDGET_SESSION_RATE_WINDOW`, each counted apart (shared by every replica with Redis); past it, 429 `rate_limited` with `Retry-After`. A stop is a pub/sub message every replica receives.",
		set: integer(1, func(c *Config) *int { return &c.Edge.SessionRateLimit })},
	{Env: "WIDGET_SESSION_RATE_WINDOW", Default: "1m", Doc: "The window of `WIDGET_SESSION_RATE_LIMIT`.",
		set: dur(func(c *Config) *time.Duration { return &c.Edge.SessionRateWindow })},
	{Env: "WIDGET_MAX_TICKETS_PER_SESSION", Default: "10", Doc: "Unredeemed, unexpired stream tickets a session may hold; past it, 429 `too_many_tickets`. One session can never take the tickets of another.",
		set: integer(1, func(c *Config) *int { return &c.Edge.MaxTicketsPerSession })},
	{Env: "WIDGET_URL_BASE", Default: "https://widget.causeflow.ai", Doc: "Base of `widgetUrl` (`<base>/embed?session=<sessionId>`).",
		set: func(c *Config, v string) error { c.Mint.URLBase = strings.TrimRight(v, "/"); return nil }},
	{Env: "WIDGET_EMBED_ORIGINS", Doc: "Comma-separated origins (`https://app.customer.com`: scheme, host, optional port, no path) of the host pages that may frame the widget (`/embed`, its CSP `frame-ancestors`) and hand it a session token. In `test`, `http://localhost:PORT` and `http://127.0.0.1:PORT` too. Unset: no page may embed it.",
		set: list(func(c *Config) *[]string { return &c.Edge.EmbedOrigins })},
	{Env: "WIDGET_TENANTS", Doc: "Each tenant's own settings: a JSON file, or an `http(s)://` URL answering the whole document (`GET`, no redirects; see [tenants](tenants.md)). Per tenant, for now, `embedOrigins`: the host pages that may frame the widget of its sessions, in place of `WIDGET_EMBED_ORIGINS`. Re-read every `WIDGET_TENANTS_INTERVAL`; a document that does not read is refused (the last good one kept, and counted), and at start the service refuses to start. Unset: every tenant gets the defaults.",
		set: str(func(c *Config) *string { return &c.Tenants.Source })},
	{Env: "WIDGET_TENANTS_TOKEN", Doc: "Bearer token sent to an HTTP `WIDGET_TENANTS` source. Never logged.",
		set: str(func(c *Config) *string { return &c.Tenants.Token })},
	{Env: "WIDGET_TENANTS_INTERVAL", Default: "30s", Doc: "How often `WIDGET_TENANTS` is re-read; a file mounted from a ConfigMap changes in place.",
		set: dur(func(c *Config) *time.Duration { return &c.Tenants.Interval })},
	{Env: "WIDGET_REDIS_URL", Doc: "Redis holding the revocation list shared by every replica: `redis://[:password@]host:port/db` (`rediss://` for TLS, required in `live` unless `WIDGET_REDIS_ALLOW_CLEARTEXT`; `?master_name=NAME` for Sentinel, the host being a sentinel; `redis+cluster://` or `rediss+cluster://` for Cluster). Unset: in memory, one process (refused in `live`).",
		set: str(func(c *Config) *string { return &c.Redis.URL })},
	{Env: "WIDGET_REVOCATION_REDIS_URL", Doc: "A Redis of their own for the revocations and their mirror (the same URL forms as `WIDGET_REDIS_URL`), so that revocations never share fate with the widget's data: a Redis filled by conversations refuses writes under `noeviction`, and a revocation must still answer 204. Its `maxmemory-policy` is checked as `WIDGET_REDIS_URL`'s is. Unset: revocations live in `WIDGET_REDIS_URL`, their keys apart but their memory shared (the per-tenant caps, `WIDGET_TENANT_MAX_LOGS` and `WIDGET_TENANT_MAX_LOG_BYTES`, are then what keeps one tenant from filling it).",
		set: str(func(c *Config) *string { return &c.Redis.RevocationURL })},
	{Env: "WIDGET_REDIS_ALLOW_CLEARTEXT", Default: "false", Doc: "`true` lets `live` use a `redis://` URL (no TLS), for a Redis on a private network only; a warning says so at start. Otherwise `live` requires `rediss://`: Redis carries its password, the revocation set and its pub/sub, and whole conversations.",
		set: boolean(func(c *Config) *bool { return &c.Redis.AllowCleartext })},
	{Env: "WIDGET_REDIS_MIN_REPLICAS", Doc: "Replicas that must confirm a write (Redis `WAIT`) before it is acknowledged: a revocation's 204, a ticket's 201, a message's 202. Past `WIDGET_REDIS_WAIT_TIMEOUT` without them the answer is 503 (the write is on the master and retrying is harmless). Unset: 1 in `live`, so that an acknowledged write survives the loss of the master; 0 outside `live`.",
		set: func(c *Config, v string) error {
			if v == "" {
				c.Redis.MinReplicas = -1 // the environment's default, set in Load
				return nil
			}
			return integer(0, func(c *Config) *int { return &c.Redis.MinReplicas })(c, v)
		}},
	{Env: "WIDGET_REDIS_WAIT_TIMEOUT", Default: "500ms", Doc: "How long a write waits for `WIDGET_REDIS_MIN_REPLICAS` replicas.",
		set: dur(func(c *Config) *time.Duration { return &c.Redis.WaitTimeout })},
	{Env: "WIDGET_REVOCATION_STALENESS", Default: "5s", Doc: "How long the in-memory revocation mirror answers without confirming it is current while its subscription lives (its polls failing) before validation fails closed with 503 `revocation_state_unknown`. With the subscription down too (Redis unreachable) it fails closed after one poll interval (1 s): a revocation acknowledged just before Redis went away is never ignored longer.",
		set: dur(func(c *Config) *time.Duration { return &c.Revocation.Staleness })},
	{Env: "WIDGET_REGION", Doc: "This deployment's region (`eu-west`, …: lower-case letters, digits and dashes), required with `WIDGET_REVOCATION_ETCD`. It names the region's propagation canary and labels the metrics of the others'.",
		set: str(func(c *Config) *string { return &c.Revocation.Region })},
	{Env: "WIDGET_REVOCATION_ETCD", Doc: "The revocation store shared by every region: `etcd://host:port,host:port,…` (the members of one etcd cluster, one per region; `etcds://` for TLS, required in `live`). A revocation's 204 then means it is committed by a majority of the members, so it survives the loss of any one region, and every region's replicas hold it within a second through a watch; a region cut off from the quorum fails closed (503 `revocation_state_unknown`, not ready) once `WIDGET_REVOCATION_STALENESS` passes without a linearizable read. Redis, when set, keeps everything else, per region. Unset: revocations live in Redis (or memory). See [multi-region](multi-region.md).",
		set: str(func(c *Config) *string { return &c.Revocation.Etcd })},
	{Env: "WIDGET_ETCD_CA_FILE", Doc: "PEM certificates that sign the etcd members' certificates, for `etcds://`. Unset: the system's roots.",
		set: str(func(c *Config) *string { return &c.Revocation.EtcdCA })},
	{Env: "WIDGET_ETCD_CERT_FILE", Doc: "A client certificate (PEM) to present to etcd, with `WIDGET_ETCD_KEY_FILE`, when the members require one.",
		set: str(func(c *Config) *string { return &c.Revocation.EtcdCert })},
	{Env: "WIDGET_ETCD_KEY_FILE", Doc: "The private key (PEM) of `WIDGET_ETCD_CERT_FILE`.",
		set: str(func(c *Config) *string { return &c.Revocation.EtcdKey })},
	{Env: "WIDGET_REVOCATION_RATE_LIMIT", Default: "60", Doc: "Revocation requests (the three `DELETE` endpoints) the callers of one tenant may make per `WIDGET_REVOCATION_RATE_WINDOW`, shared by every replica with Redis; past it, 429 `rate_limited` with `Retry-After`. Counted for the caller's tenant, so the operator tenant keeps its own budget.",
		set: integer(1, func(c *Config) *int { return &c.Revocation.RateLimit })},
	{Env: "WIDGET_REVOCATION_RATE_WINDOW", Default: "1m", Doc: "The window of `WIDGET_REVOCATION_RATE_LIMIT`.",
		set: dur(func(c *Config) *time.Duration { return &c.Revocation.RateWindow })},
	{Env: "WIDGET_REVOCATION_MAX_PER_TENANT", Default: "10000", Doc: "Live session and user revocation entries one tenant may hold; a new one past it is 429 `revocation_limit_reached` (ops revoking the whole tenant is never refused). Entries leave as they expire, at most 24 h after they were written.",
		set: integer(1, func(c *Config) *int { return &c.Revocation.MaxPerTenant })},
	{Env: "WIDGET_REVOCATION_MAX_ENTRIES", Default: "1000000", Doc: "Most revocation entries a replica's mirror will hold. A Redis holding more (hostile or corrupted) is refused, and validation fails closed, rather than exhausting the replica's memory. Keep it above tenants × `WIDGET_REVOCATION_MAX_PER_TENANT` in use.",
		set: integer(1, func(c *Config) *int { return &c.Revocation.MaxEntries })},
	{Env: "WIDGET_TRUSTED_PROXIES", Doc: "Comma-separated CIDRs or IPs of proxies whose `X-Forwarded-For` (and W3C `traceparent`) is believed. Unset: none; the client IP is the peer address, and every trace starts here.",
		set: func(c *Config, v string) error {
			var raw []string
			if err := list(func(*Config) *[]string { return &raw })(c, v); err != nil {
				return err
			}
			var err error
			c.Server.TrustedProxies, err = ParsePrefixes(raw)
			return err
		}},
	{Env: "WIDGET_SHUTDOWN_TIMEOUT", Default: "15s", Doc: "How long a graceful shutdown waits for requests in flight.",
		set: dur(func(c *Config) *time.Duration { return &c.Server.ShutdownTimeout })},
	{Env: "WIDGET_PPROF", Default: "false", Doc: "`true` serves Go's profiler at `/debug/pprof/` on the internal listener (never the public one), to find where time and memory go. Off by default: a profile holds what the process holds.",
		set: boolean(func(c *Config) *bool { return &c.Server.Pprof })},
}

func boolean(dst func(c *Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		*dst(c) = b
		return nil
	}
}

// MarkdownTable returns the configuration table of docs/configuration.md, generated from
// the settings declared above.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Description |\n|---|---|---|\n")
	for _, s := range settings {
		def := "(unset)"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", s.Env, def, s.Doc)
	}
	return b.String()
}
