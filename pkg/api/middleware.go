package api

import (
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/segmentio/ksuid"
	"go.uber.org/zap"
)

// Keys of request-scoped values in the gin context.
const (
	ctxRequestID = "widget.requestID"
	ctxLogger    = "widget.logger"
	ctxTenant    = "widget.tenant"
	ctxSession   = "widget.session"
	ctxErrorCode = "widget.errorCode"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// A request id from the client is kept only when it is short and plain, so
// that it can go into logs and headers as it is.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID gives every request an id, answers it in X-Request-Id, and
// puts a logger carrying it in the context.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(HeaderRequestID)
	if !validRequestID.MatchString(id) {
		id = "req_" + ksuid.New().String()
	}
	c.Set(ctxRequestID, id)
	c.Set(ctxLogger, s.deps.Logger.With(zap.String("request_id", id)))
	c.Header(HeaderRequestID, id)
	c.Next()
}

func requestIDOf(c *gin.Context) string { return c.GetString(ctxRequestID) }

// logger returns the request-scoped logger.
func (s *Server) logger(c *gin.Context) *zap.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*zap.Logger)
	}
	return s.deps.Logger
}

// accessLog writes one line per request. It logs the route template, not
// the raw URL: a path or query is caller-controlled and is where a leaked
// token would hide. Headers and bodies are never logged.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	s.deps.Metrics.observeRequest(route, c.Request.Method, status, time.Since(start))
	fields := []zap.Field{
		zap.String("method", c.Request.Method),
		zap.String("route", route),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
		zap.String("client_ip", c.ClientIP()),
	}
	for _, k := range [...]string{ctxTenant, ctxSession, ctxErrorCode} {
		if v := c.GetString(k); v != "" {
			fields = append(fields, zap.String(k[len("widget."):], v))
		}
	}
	s.logger(c).Info("request", fields...)
}

// recoverPanic answers a panicking handler with a generic 500 and logs the
// panic; the process keeps serving.
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v)
			}
			s.logger(c).Error("panic in handler", zap.Any("panic", v), zap.Stack("stack"))
			if !c.Writer.Written() {
				s.renderError(c, errPanic)
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
