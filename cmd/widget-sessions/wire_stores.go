package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

// revocationStore is what the service needs of a revocation store: to
// record revocations and, as a validator, to check them.
type revocationStore interface {
	session.RevocationStore
	verify.RevocationChecker
	stream.Revocations
}

// stores are the state shared by replicas: all on one Redis when
// WIDGET_REDIS_URL is set, all in memory (one process) otherwise. This is
// the one place that chooses.
type stores struct {
	revs          revocationStore
	revsReady     api.ReadyCheck
	events        events.Log
	tickets       api.Tickets
	limiter       ratelimit.Limiter // messages, per session
	budget        budget.Store      // model tokens, per tenant and day
	quota         quota.Store       // session logs and their bytes, per tenant
	stops         chat.Stops
	revokeLimiter ratelimit.Limiter
	ticketLimiter ratelimit.Limiter
	// sessionLimiter bounds a session's reads of GET /v1/widget/session
	// and its stop requests.
	sessionLimiter ratelimit.Limiter
	incidentCache  incident.Cache // nil on the in-memory stores: the replica's own tier is the whole cache
	// warnings are what /readyz says beside "ready" (nil: nothing).
	warnings func() []string
	closers  []func()
	// revMetrics are the revocation store's metrics (nil in memory).
	revMetrics *revocationMetrics
}

func (s *stores) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func openStores(ctx context.Context, cfg config.Config, logger *zap.Logger, reg prometheus.Registerer, tracing trace.TracerProvider) (*stores, error) {
	st, err := openState(ctx, cfg, logger, reg, tracing)
	if err != nil || cfg.Revocation.Etcd == "" {
		return st, err
	}
	// The revocations of every region, on etcd; the rest stays where it
	// is, per region.
	revs, closers, err := openEtcdRevocations(ctx, cfg, logger, reg, st.revMetrics)
	if err != nil {
		st.close()
		return nil, err
	}
	st.closers = append(st.closers, closers...)
	st.revs, st.revsReady = revs, revs.Fresh
	if err := mirrorAge(reg, revs); err != nil {
		st.close()
		return nil, err
	}
	return st, nil
}

// openState opens the shared state: on Redis when WIDGET_REDIS_URL is
// set, in memory otherwise; the revocations with it unless they are on
// etcd.
func openState(ctx context.Context, cfg config.Config, logger *zap.Logger, reg prometheus.Registerer, tracing trace.TracerProvider) (*stores, error) {
	var revMetrics *revocationMetrics
	if cfg.Redis.URL != "" || cfg.Revocation.Etcd != "" {
		var err error
		if revMetrics, err = newRevocationMetrics(reg); err != nil {
			return nil, err
		}
	}
	if cfg.Redis.URL == "" {
		logger.Info("state in memory (revocations, event logs, tickets, rate limits, context cache): " +
			"this process only; set WIDGET_REDIS_URL for several replicas")
		log, err := events.NewMemory(events.MemoryOptions{})
		if err != nil {
			return nil, err
		}
		limiter, err := ratelimit.NewMemory(cfg.Edge.MessageRateLimit, cfg.Edge.MessageRateWindow, time.Now)
		if err != nil {
			return nil, err
		}
		revokeLimiter, err := ratelimit.NewMemory(cfg.Revocation.RateLimit, cfg.Revocation.RateWindow, time.Now)
		if err != nil {
			return nil, err
		}
		ticketLimiter, err := ratelimit.NewMemory(cfg.Edge.TicketRateLimit, cfg.Edge.TicketRateWindow, time.Now)
		if err != nil {
			return nil, err
		}
		sessionLimiter, err := ratelimit.NewMemory(cfg.Edge.SessionRateLimit, cfg.Edge.SessionRateWindow, time.Now)
		if err != nil {
			return nil, err
		}
		return &stores{
			revs: revoke.NewMemory(time.Now, revocationLimits(cfg)), revsReady: func() error { return nil },
			events: log, tickets: ticket.NewMemory(time.Now, cfg.Edge.MaxTicketsPerSession), limiter: limiter, budget: budget.NewMemory(), quota: quota.NewMemory(), stops: &chat.LocalStops{},
			revokeLimiter: revokeLimiter, ticketLimiter: ticketLimiter, sessionLimiter: sessionLimiter,
			revMetrics: revMetrics,
		}, nil
	}

	redisstore.RouteClientLogs(logger.Named("go-redis"))
	client, err := redis.NewClient(cfg.Redis.URL)
	if err != nil {
		return nil, err
	}
	st := &stores{closers: []func(){func() { _ = client.Close() }}, revMetrics: revMetrics}
	if err := st.openRedis(ctx, cfg, logger, client, reg, tracing); err != nil {
		st.close()
		return nil, err
	}
	logger.Info("state on redis", zap.Duration("revocation_staleness_budget", cfg.Revocation.Staleness))
	return st, nil
}

func (st *stores) openRedis(ctx context.Context, cfg config.Config, logger *zap.Logger, client goredis.UniversalClient, reg prometheus.Registerer, tracing trace.TracerProvider) error {
	// Revocations on a Redis of their own, when given one, so that a Redis
	// filled by conversations cannot refuse them.
	revClient, revEnv := client, "WIDGET_REDIS_URL"
	if cfg.Redis.RevocationURL != "" {
		c, err := redis.NewClient(cfg.Redis.RevocationURL)
		if err != nil {
			return fmt.Errorf("WIDGET_REVOCATION_REDIS_URL: %w", err)
		}
		st.closers = append(st.closers, func() { _ = c.Close() })
		revClient, revEnv = c, "WIDGET_REVOCATION_REDIS_URL"
	}
	if err := checkEviction(ctx, cfg, logger, revClient, revEnv); err != nil {
		return err
	}
	metrics, err := newRedisMetrics(reg, st.revMetrics)
	if err != nil {
		return err
	}
	metrics.required.Set(float64(cfg.Redis.MinReplicas))
	health := &redisHealth{client: client, required: cfg.Redis.MinReplicas, logger: logger.Named("redis"), metrics: metrics}
	health.check(ctx) // a shortage of replicas is said at start
	hctx, stopHealth := context.WithCancel(ctx)
	go health.run(hctx)
	st.closers = append(st.closers, stopHealth)
	st.warnings = health.warnings
	redisstore.Instrument(client, tracing.Tracer("github.com/causeflow/widget-sessions/pkg/redis"), metrics.command)
	if revClient != client {
		redisstore.Instrument(revClient, tracing.Tracer("github.com/causeflow/widget-sessions/pkg/redis"), metrics.command)
	}
	repl := redis.Replication{MinReplicas: cfg.Redis.MinReplicas, Timeout: cfg.Redis.WaitTimeout, Shortfall: metrics.shortfall}
	if cfg.Revocation.Etcd == "" {
		if err := st.openRedisRevocations(ctx, cfg, logger, revClient, repl, metrics, reg); err != nil {
			return err
		}
	}
	return st.openRedisState(ctx, cfg, logger, client, revClient, repl, metrics)
}

// openRedisRevocations keeps the revocations on revClient.
func (st *stores) openRedisRevocations(ctx context.Context, cfg config.Config, logger *zap.Logger, revClient goredis.UniversalClient, repl redis.Replication, metrics *redisMetrics, reg prometheus.Registerer) error {
	revs, err := redis.NewRevocations(revClient, redis.Config{
		Namespace:       "wrev-" + cfg.Env,
		StalenessBudget: cfg.Revocation.Staleness,
		Leeway:          cfg.Token.ClockSkew,
		Logger:          redisstore.Slog(logger.Named("revocations")),
		Limits:          revocationLimits(cfg),
		Replication:     repl,
		Observer:        metrics.observer(),
	})
	if err != nil {
		return err
	}
	// A replica that cannot load the revocation set must not serve: it
	// would fail closed on every token anyway. Refusing to start makes the
	// orchestrator retry and the cause visible.
	if err := revs.Start(ctx); err != nil {
		return fmt.Errorf("revocations: redis: %w", err)
	}
	st.closers = append(st.closers, func() { _ = revs.Close() })
	st.revs, st.revsReady = revs, revs.Fresh
	return mirrorAge(reg, revs)
}

// openRedisState keeps the rest of the shared state on client (the
// revocations' own limiter on revClient).
func (st *stores) openRedisState(ctx context.Context, cfg config.Config, logger *zap.Logger, client, revClient goredis.UniversalClient, repl redis.Replication, metrics *redisMetrics) error {
	ns := "widget-" + cfg.Env
	log, err := redisstore.NewEventLog(client, redisstore.EventLogConfig{Namespace: ns, Logger: logger.Named("events"), Replication: repl, Observer: metrics.observer()})
	if err != nil {
		return err
	}
	if err := log.Start(ctx); err != nil {
		return fmt.Errorf("event log: redis: %w", err)
	}
	st.closers = append(st.closers, func() { _ = log.Close() })
	st.events = log
	if st.limiter, err = redisstore.NewRateLimiter(client, ns, cfg.Edge.MessageRateLimit, cfg.Edge.MessageRateWindow); err != nil {
		return err
	}
	// The revocations' own limiter lives with them: a Redis full of
	// conversations must not refuse a revocation through its counter.
	if st.revokeLimiter, err = redisstore.NewRateLimiter(revClient, ns+":revoke", cfg.Revocation.RateLimit, cfg.Revocation.RateWindow); err != nil {
		return err
	}
	if st.ticketLimiter, err = redisstore.NewRateLimiter(client, ns+":ticket", cfg.Edge.TicketRateLimit, cfg.Edge.TicketRateWindow); err != nil {
		return err
	}
	if st.sessionLimiter, err = redisstore.NewRateLimiter(client, ns+":session", cfg.Edge.SessionRateLimit, cfg.Edge.SessionRateWindow); err != nil {
		return err
	}
	st.budget = redisstore.NewBudget(client, ns)
	st.quota = redisstore.NewQuota(client, ns)
	st.tickets = redisstore.NewTickets(client, ns, cfg.Edge.MaxTicketsPerSession, repl)
	stops := redisstore.NewStops(client, ns, logger.Named("stops"))
	if err := stops.Start(ctx); err != nil {
		return fmt.Errorf("stop requests: redis: %w", err)
	}
	st.closers = append(st.closers, stops.Close)
	st.stops = stops
	st.incidentCache = redisstore.NewIncidentCache(client, ns)
	return nil
}

// revocationLimits are the bounds of the revocation store and mirror.
func revocationLimits(cfg config.Config) revoke.Limits {
	return revoke.Limits{MaxPerTenant: cfg.Revocation.MaxPerTenant, MaxEntries: cfg.Revocation.MaxEntries}
}

// checkEviction refuses, in live, a Redis whose maxmemory-policy may evict
// the revocation keys: a revocation must never vanish because Redis ran
// short of memory. Outside live it is an error-level warning. A policy that
// cannot be read (CONFIG disabled) is a warning: the marker inside the
// entries hash still detects the loss, and fails safe.
func checkEviction(ctx context.Context, cfg config.Config, logger *zap.Logger, client goredis.UniversalClient, env string) error {
	policies, err := redis.CheckEviction(ctx, client)
	switch {
	case errors.Is(err, redis.ErrEvicting) && cfg.Env == token.EnvLive:
		return fmt.Errorf("%s: %w; refusing to start in live", env, err)
	case errors.Is(err, redis.ErrEvicting):
		logger.Error("REDIS MAY EVICT REVOCATIONS: its maxmemory-policy evicts keys without a TTL; a live replica refuses to start on it. "+
			"Set maxmemory-policy to noeviction (or a volatile-* policy).", zap.Strings("maxmemory_policy", policies), zap.Error(err))
	case err != nil:
		logger.Warn("cannot read Redis's maxmemory-policy; make sure it is noeviction or volatile-*", zap.Error(err))
	default:
		logger.Info("redis maxmemory-policy keeps the revocation keys", zap.Strings("maxmemory_policy", policies))
	}
	return nil
}
