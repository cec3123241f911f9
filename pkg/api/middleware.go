package api

import (
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/segmentio/ksuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
)

// ctxRequest is the gin context key of the request's *request.
const ctxRequest = "widget.request"

// request is what the middleware and the handlers learn about a request and
// the access log reports: one value in the gin context, set once.
type request struct {
	id        string
	tenant    string
	session   string
	errorCode string
	base      *zap.Logger // the server's
	logger    *zap.Logger // base with the request id; made on first use
}

// requestOf returns the request's record that requestID made.
func requestOf(c *gin.Context) *request {
	if r, ok := c.Get(ctxRequest); ok {
		return r.(*request)
	}
	return &request{base: zap.NewNop()} // requestID runs first on every route: not reached
}

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// A request id from the client is kept only when it is short and plain, so
// that it can go into logs and headers as it is.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID gives every request an id, answers it in X-Request-Id, and
// keeps it for the logs.
func requestID(logger *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID.MatchString(id) {
			id = "req_" + ksuid.New().String()
		}
		c.Set(ctxRequest, &request{id: id, base: logger})
		c.Writer.Header()[HeaderRequestID] = []string{id} // canonical already
		c.Next()
	}
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
// the request, and a 429 as a refusal by its error code.
func accessLog(metrics *Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		elapsed := time.Since(start)
		metrics.observeRequest(route, c.Request.Method, status, elapsed)
		r := requestOf(c)
		if status == http.StatusTooManyRequests && r.errorCode != "" {
			metrics.observeRefusal(route, r.errorCode)
		}
		ce := r.base.Check(zap.InfoLevel, "request")
		if ce == nil {
			return
		}
		var buf [9]zap.Field // all the line's fields in one allocation (they escape through zap's Core), never a growing slice
		fields := append(buf[:0],
			zap.String("request_id", r.id),
			zap.String("method", c.Request.Method),
			zap.String("route", route),
			zap.Int("status", status),
			zap.Duration("duration", elapsed),
			zap.String("client_ip", c.ClientIP()),
		)
		for _, f := range [...]struct{ key, v string }{{"tenant", r.tenant}, {"session", r.session}, {"errorCode", r.errorCode}} {
			if f.v != "" {
				fields = append(fields, zap.String(f.key, f.v))
			}
		}
		ce.Write(fields...)
	}
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
func traceRequest(tracer trace.Tracer) gin.HandlerFunc {
	prop := propagation.TraceContext{}
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := prop.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tracer.Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route)))
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
