package api

import (
	"cmp"
	"crypto/rand"
	"net/http"
	"net/netip"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/causeflow/widget-sessions/internal/audit"
	"github.com/causeflow/widget-sessions/pkg/widget"
	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// request is what the middleware and the handlers learn about a request and
// the access log reports. It wraps the request's gin.ResponseWriter, so
// that it travels with the request without a map: requestID puts it there
// first, on every route, and nothing else replaces c.Writer.
type request struct {
	gin.ResponseWriter
	id        string
	idHeader  [1]string // X-Request-Id's value, without a slice of its own
	tenant    string
	session   string
	errorCode string
	// What the audit trail needs beyond the access log's fields: who (a
	// caller authenticated on the API, or a session's user on the edge)
	// and what (the minted session's user and incident, the tenant a
	// revocation targets).
	api          bool // the route authenticates callers: its 401 and 403 are audited
	caller       widget.Caller
	authed       bool
	subject      string // a session's user, on the edge
	user         string
	incident     string
	targetTenant string
	rating       string      // a rating recorded: the audit's
	base         *zap.Logger // the server's
	logger       *zap.Logger // base with the request id; made on first use

	// Set by accessLog when the request is done, for its line.
	method, route, clientIP string
	status                  int
	elapsed                 time.Duration
}

// Unwrap lets http.ResponseController reach gin's writer underneath.
func (r *request) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestOf returns the request's record that requestID made.
func requestOf(c *gin.Context) *request {
	if r, ok := c.Writer.(*request); ok {
		return r
	}
	return &request{ResponseWriter: c.Writer, base: zap.NewNop()} // requestID runs first on every route: not reached
}

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// A request id from the client is kept only when it is short and plain, so
// that it can go into logs and headers as it is.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID gives every request an id, answers it in X-Request-Id, and
// keeps it for the logs.
func requestID(logger *zap.Logger) gin.HandlerFunc {
	ids := newRequestIDs()
	return func(c *gin.Context) {
		r := &request{ResponseWriter: c.Writer, base: logger}
		r.id = c.GetHeader(HeaderRequestID)
		if r.id == "" || !validRequestID.MatchString(r.id) {
			r.id = ids.next()
		}
		r.idHeader[0] = r.id
		c.Writer = r
		r.Header()[HeaderRequestID] = r.idHeader[:] // canonical already
		c.Next()
	}
}

// requestIDs makes the ids of the requests that bring none: "req_" and 27
// base62 characters, the first 15 drawn at random once per process (89
// bits: no two replicas share them), the last 12 a counter. An id names a
// request in the logs; it is not a secret, and a client may choose its
// own. Drawing 16 random bytes per request, as a KSUID does, cost a
// microsecond of every request.
type requestIDs struct {
	prefix [4 + 15]byte
	n      atomic.Uint64
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func newRequestIDs() *requestIDs {
	s := &requestIDs{}
	copy(s.prefix[:], "req_")
	for i := 4; i < len(s.prefix); {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		for _, v := range b {
			if v < 62*4 && i < len(s.prefix) { // unbiased: 248 is a multiple of 62
				s.prefix[i] = base62[v%62]
				i++
			}
		}
	}
	return s
}

func (s *requestIDs) next() string {
	var b [4 + 27]byte
	copy(b[:], s.prefix[:])
	v := s.n.Add(1)
	for i := len(b) - 1; i >= len(s.prefix); i-- { // 62^12 > 2^64: the counter never wraps
		b[i] = base62[v%62]
		v /= 62
	}
	return string(b[:])
}

func requestIDOf(c *gin.Context) string { return requestOf(c).id }

// loggerOf returns the request-scoped logger: the server's, with the
// request id. Most requests log one line, the access log, which adds the
// id itself; so the scoped logger is only made for a request that logs
// more.
func loggerOf(c *gin.Context) *zap.Logger {
	r := requestOf(c)
	if r.logger == nil {
		r.logger = r.base.With(zap.String("request_id", r.id))
	}
	return r.logger
}

// accessLog writes one line per request. It logs the route template, not
// the raw URL: a path or query is caller-controlled and is where a leaked
// token would hide. Headers and bodies are never logged. It also counts
// the request, and a 429 as a refusal by its error code. Without trusted
// proxies the client's IP is the peer's, as gin's ClientIP would find it
// after parsing and printing it again.
func accessLog(metrics *Metrics, trustedProxies bool, trail *audit.Log) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		r := requestOf(c)
		r.route = c.FullPath()
		if r.route == "" {
			r.route = "unmatched"
		}
		r.method, r.status, r.elapsed = c.Request.Method, r.Status(), time.Since(start)
		metrics.observeRequest(r.route, r.method, r.status, r.elapsed)
		if r.status == http.StatusTooManyRequests && r.errorCode != "" {
			metrics.observeRefusal(r.route, r.errorCode)
		}
		if ce := r.base.Check(zap.InfoLevel, "request"); ce != nil {
			if r.clientIP = c.RemoteIP(); trustedProxies {
				r.clientIP = c.ClientIP()
			}
			ce.Write(zap.Inline(r))
		}
		if trail != nil {
			if typ := r.auditType(); typ != "" {
				e := r.auditEvent(c, typ)
				trail.Record(&e)
			}
		}
	}
}

// auditType is the audit event a request done makes, or "": a refusal by
// a limit (429) anywhere, a caller refused (401, 403) on the API, and the
// acts the trail records when they succeed.
func (r *request) auditType() string {
	switch {
	case r.status == http.StatusTooManyRequests:
		return audit.LimitRefused
	case r.api && (r.status == http.StatusUnauthorized || r.status == http.StatusForbidden):
		return audit.CallerRefused
	case r.status >= 300:
		return ""
	}
	// By route and method apart: joining them would allocate on every
	// request, the mint's included.
	switch {
	case r.method == http.MethodPost && r.route == "/v1/widget/sessions":
		return audit.SessionCreated
	case r.method == http.MethodDelete && r.route == "/v1/widget/sessions/:sessionId":
		return audit.SessionRevoked
	case r.method == http.MethodDelete && r.route == "/v1/widget/users/:userId/sessions":
		return audit.UserSessionsRevoked
	case r.method == http.MethodDelete && r.route == "/v1/widget/tenants/:tenantId/sessions":
		return audit.TenantSessionsRevoked
	case r.method == http.MethodPost && r.route == "/v1/widget/sessions/:sessionId/messages/:messageId/stop":
		return audit.ResponseStopped
	case r.method == http.MethodPost && r.route == "/v1/widget/sessions/:sessionId/messages/:messageId/feedback":
		return audit.ResponseRated
	}
	return ""
}

// auditEvent is the request's audit event of type typ: ids only, never a
// credential.
func (r *request) auditEvent(c *gin.Context, typ string) audit.Event {
	e := audit.Event{Type: typ, RequestID: r.id, Outcome: audit.OK, Status: r.status}
	switch {
	case r.authed:
		e.Actor = audit.Actor{Kind: audit.KindCaller, Subject: r.caller.Subject, Tenant: r.caller.Tenant, Roles: r.caller.Roles}
	case r.subject != "":
		e.Actor = audit.Actor{Kind: audit.KindSession, Subject: r.subject, Tenant: r.tenant}
	default:
		e.Actor = audit.Actor{Kind: audit.KindUnknown}
	}
	e.Target = audit.Target{
		Tenant:   cmp.Or(c.Param("tenantId"), r.targetTenant, r.tenant),
		User:     cmp.Or(c.Param("userId"), r.user),
		Session:  cmp.Or(c.Param("sessionId"), r.session),
		Incident: r.incident,
		Message:  c.Param("messageId"),
	}
	e.Rating = r.rating
	if r.status >= 400 {
		e.Outcome, e.Code, e.Target.Route = audit.Refused, r.errorCode, r.method+" "+r.route
	}
	return e
}

// MarshalLogObject writes the access log's fields: the line is one inline
// object, not nine fields copied for zap's Core.
func (r *request) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("request_id", r.id)
	enc.AddString("method", r.method)
	enc.AddString("route", r.route)
	enc.AddInt("status", r.status)
	enc.AddDuration("duration", r.elapsed)
	enc.AddString("client_ip", r.clientIP)
	for _, f := range [...]struct{ key, v string }{{"tenant", r.tenant}, {"session", r.session}, {"errorCode", r.errorCode}} {
		if f.v != "" {
			enc.AddString(f.key, f.v)
		}
	}
	return nil
}

// recoverPanic answers a panicking handler with a generic 500 and logs the
// panic; the process keeps serving.
func recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v)
			}
			loggerOf(c).Error("panic in handler", zap.Any("panic", v), zap.Stack("stack"))
			if !c.Writer.Written() {
				renderError(c, errPanic)
			} else {
				c.Abort()
			}
		}
	}()
	c.Next()
}

type panicError struct{}

func (panicError) Error() string { return "handler panicked" }

var errPanic error = panicError{}

// traceRequest makes each request a server span, continuing the trace of a
// W3C traceparent from the gateway. Its attributes are the method, the
// route template and the status: never a path, a query, a header or a body,
// where tokens travel.
func traceRequest(tracer trace.Tracer, trusted []netip.Prefix) gin.HandlerFunc {
	prop := propagation.TraceContext{}
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := c.Request.Context()
		// A traceparent is continued only from a trusted proxy (the
		// gateway): from anyone else, its sampled flag would force
		// exports whatever the sampling ratio, with trace ids the client
		// chose.
		if fromTrusted(c.Request.RemoteAddr, trusted) {
			ctx = prop.Extract(ctx, propagation.HeaderCarrier(c.Request.Header))
		}
		// A method the client made up is folded, as in the metrics: it
		// must not choose span names (semantic conventions: _OTHER, and
		// the name "HTTP <route>").
		method, name := c.Request.Method, c.Request.Method
		if knownMethod(method) == "other" {
			method, name = "_OTHER", "HTTP"
		}
		ctx, span := tracer.Start(ctx, name+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

// fromTrusted reports whether the peer at remoteAddr (host:port) is in one
// of the trusted prefixes.
func fromTrusted(remoteAddr string, trusted []netip.Prefix) bool {
	if len(trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
