package redisstore

import (
	"context"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// RouteClientLogs sends go-redis's own messages (dial failures, pool
// warnings during an outage) to logger at warn level, instead of the plain
// text go-redis writes to stderr by default, which would break a JSON log
// stream. go-redis keeps its logger in an unguarded package variable, so
// only the first call in a process takes effect: a later one would race
// with clients already logging.
func RouteClientLogs(logger *zap.Logger) {
	routeOnce.Do(func() { goredis.SetLogger(clientLogger{logger}) })
}

var routeOnce sync.Once

type clientLogger struct{ l *zap.Logger }

func (c clientLogger) Printf(_ context.Context, format string, v ...any) {
	c.l.Warn(fmt.Sprintf(format, v...))
}
