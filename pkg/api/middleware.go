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
func requestID(logger *zap.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID.MatchString(id) {
			id = "req_" + ksuid.New().String()
		}
		c.Set(ctxRequestID, id)
		c.Set(ctxLogger, logger.With(zap.String("request_id", id)))
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

func requestIDOf(c *gin.Context) string { return c.GetString(ctxRequestID) }

// loggerOf returns the request-scoped logger that requestID put in the
// context.
func loggerOf(c *gin.Context) *zap.Logger {
	if l, ok := c.Get(ctxLogger); ok {
		return l.(*zap.Logger)
	}
	return zap.NewNop() // requestID runs first on every route: not reached
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
		metrics.observeRequest(route, c.Request.Method, status, time.Since(start))
		if code := c.GetString(ctxErrorCode); status == http.StatusTooManyRequests && code != "" {
			metrics.observeRefusal(c.FullPath(), code)
		}
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
		loggerOf(c).Info("request", fields...)
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
