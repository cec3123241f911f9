package redisstore

import (
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Slog is l as a *slog.Logger, its name and fields kept: the service logs
// with zap, while the public packages (pkg/redis, pkg/revoke) take the
// standard library's logger, so that a gateway embedding them brings no
// logging library. A nil l logs nothing.
func Slog(l *zap.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(zapslog.NewHandler(l.Core(), zapslog.WithName(l.Name())))
}
