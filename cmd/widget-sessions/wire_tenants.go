package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/tenants"
)

// openTenants reads WIDGET_TENANTS once (a source that does not read stops
// the start) and counts its later re-reads by result.
func openTenants(ctx context.Context, cfg config.Config, logger *zap.Logger, reg prometheus.Registerer) (*tenants.Store, error) {
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_tenant_reloads_total",
		Help: "Re-reads of WIDGET_TENANTS that found a changed document, by result: ok, or refused (the last good document kept).",
	}, []string{"result"})
	if err := reg.Register(reloads); err != nil {
		return nil, err
	}
	reloads.WithLabelValues("refused") // exported at 0, for an alert's increase()
	log := logger.Named("tenants")
	s, err := tenants.Open(ctx, cfg.Tenants.Source, tenants.Options{
		Defaults: tenants.Settings{
			EmbedOrigins: cfg.Edge.EmbedOrigins, MaxRepliesInFlight: cfg.Edge.MaxTenantReplies,
			ModelTokensPerDay: int64(cfg.Assistant.TokensPerDay),
			MaxStoredSessions: cfg.Edge.TenantMaxLogs, MaxStoredBytes: int64(cfg.Edge.TenantMaxLogBytes),
		},
		LoopbackHTTP: cfg.Env != "live",
		Token:        cfg.Tenants.Token,
		OnReload: func(err error) {
			if err != nil {
				reloads.WithLabelValues("refused").Inc()
				log.Error("tenant settings not reloaded; keeping the last good document", zap.Error(err))
				return
			}
			reloads.WithLabelValues("ok").Inc()
			log.Info("tenant settings reloaded")
		},
	})
	if err != nil {
		return nil, fmt.Errorf("WIDGET_TENANTS: %w", err)
	}
	if cfg.Tenants.Source != "" {
		log.Info("tenant settings loaded", zap.Int("tenants", s.Document().Len()))
	}
	return s, nil
}
