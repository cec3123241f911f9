package main

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

// edgeParts is the widget's side with what run must stop (the chat
// service and the stream hub) and its readiness check.
type edgeParts struct {
	surface api.Surface
	chat    *chat.Service
	hub     *stream.Hub
	ready   api.ReadyCheck
}

// edge builds the widget's side (session, messages, stream, the
// embeddable page). The edge validates session tokens itself, never by
// calling the API: with the signing keys in process when it serves both
// (ring), else with the API's published JWKS. The metrics of its streams
// and its assistant (am) go to w.reg.
func (w wiring) edge(ctx context.Context, ring *keys.Ring, asst assistant.Assistant, am *assistant.Metrics) (edgeParts, error) {
	cfg, logger, metrics, tracing, st, incidents := w.cfg, w.logger, w.metrics, w.tracing, w.stores, w.incidents
	asst = am.Measure(asst, tracing.Tracer("github.com/causeflow/widget-sessions/internal/assistant"))
	sm, err := stream.NewMetrics(w.reg)
	if err != nil {
		return edgeParts{}, err
	}
	var keySource verify.KeySource
	ready := func() error { return nil }
	if ring != nil {
		keySource = verify.KeyFunc(ring.PublicKey)
	} else {
		cache, err := jwks.New(cfg.Edge.JWKS, jwks.Options{
			AllowInsecureHTTP: cfg.Env != "live",
			OnError: func(err error) {
				logger.Warn("session-token JWKS refresh failed; keeping the last good keys", zap.Error(err))
			},
		})
		if err != nil {
			return edgeParts{}, err
		}
		if err := cache.Start(ctx); err != nil {
			logger.Error("session-token JWKS not loaded at start-up", zap.Error(err))
		}
		keySource = cache
		ready = func() error {
			if !cache.Ready() {
				return errors.New("session-token JWKS not loaded")
			}
			return nil
		}
	}
	verifier, err := verify.New(verify.Config{
		Env: cfg.Env, Issuer: cfg.Token.Issuer, Audience: cfg.Token.Audience, Leeway: cfg.Token.ClockSkew,
	}, keySource, st.revs)
	if err != nil {
		return edgeParts{}, err
	}
	chatService, err := chat.New(chat.Config{
		Log: st.events, Assistant: asst, Incidents: incidents,
		Limiter: st.limiter, Stops: st.stops, Revocations: st.revs, Logger: logger.Named("chat"),
		MaxReplies:       cfg.Edge.MaxReplies,
		MaxTenantReplies: func(tenant string) int { return w.tenants.Get(tenant).MaxRepliesInFlight },
		Budget:           st.budget,
		TokensPerDay:     func(tenant string) int64 { return w.tenants.Get(tenant).ModelTokensPerDay },
		Quota:            st.quota,
		QuotaLimits: func(tenant string) quota.Limits {
			t := w.tenants.Get(tenant)
			return quota.Limits{Sessions: t.MaxStoredSessions, Bytes: t.MaxStoredBytes}
		},
	})
	if err != nil {
		return edgeParts{}, err
	}
	hub, err := stream.NewHub(st.events, st.revs, stream.Config{
		MaxPerSession: cfg.Edge.MaxStreamsPerSession, MaxPerClient: cfg.Edge.MaxStreamsPerClient,
		Heartbeat: cfg.Edge.Heartbeat, Logger: logger.Named("stream"), OnClose: sm.Closed,
	})
	if err != nil {
		chatService.Close()
		return edgeParts{}, err
	}
	if err := sm.Watch(hub); err != nil {
		hub.Close()
		chatService.Close()
		return edgeParts{}, err
	}
	surface, err := api.Edge(api.EdgeOptions{
		Verifier: verifier, Chat: chatService, Streams: hub, Tickets: st.tickets,
		TicketLimiter: st.ticketLimiter, SessionLimiter: st.sessionLimiter, Incidents: incidents, Metrics: metrics,
		TicketTTL: cfg.Edge.TicketTTL, Tenants: w.tenants,
	})
	if err != nil {
		hub.Close()
		chatService.Close()
		return edgeParts{}, err
	}
	return edgeParts{surface: surface, chat: chatService, hub: hub, ready: ready}, nil
}

// newAssistant returns the OpenAI-compatible adapter when
// WIDGET_ASSISTANT_URL is set, and the embedded assistant otherwise.
func newAssistant(cfg config.Config, logger *zap.Logger, onUsage func(prompt, completion int)) (assistant.Assistant, error) {
	if cfg.Assistant.URL == "" {
		logger.Info("assistant: embedded (answers from the incident context); set WIDGET_ASSISTANT_URL for a model server")
		return assistant.NewEmbedded(assistant.DefaultPause), nil
	}
	a, err := assistant.NewOpenAI(assistant.OpenAIConfig{
		URL: cfg.Assistant.URL, Model: cfg.Assistant.Model, APIKey: cfg.Assistant.APIKey,
		MaxTokens: cfg.Assistant.MaxTokens, MaxHistoryBytes: cfg.Assistant.HistoryBytes, MaxHistoryTurns: cfg.Assistant.HistoryTurns,
		OnUsage: onUsage,
	})
	if err != nil {
		return nil, err
	}
	logger.Info("assistant: OpenAI-compatible upstream", zap.String("model", cfg.Assistant.Model))
	return a, nil
}
