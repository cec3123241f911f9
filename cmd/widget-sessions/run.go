package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/causeflow/widget-sessions/pkg/api"
	"github.com/causeflow/widget-sessions/pkg/callerauth"
	"github.com/causeflow/widget-sessions/pkg/config"
	"github.com/causeflow/widget-sessions/pkg/demo"
	"github.com/causeflow/widget-sessions/pkg/devidp"
	"github.com/causeflow/widget-sessions/pkg/directory"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/keys"
	"github.com/causeflow/widget-sessions/pkg/redis"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/session"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// run is the whole program: it wires every dependency by hand, serves until
// ctx ends, then shuts down gracefully. End-to-end tests call it on
// 127.0.0.1:0 and read the bound addresses from the "listening" log lines.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configTable := fs.Bool("config-table", false, "print the configuration table (Markdown) and exit")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *configTable {
		_, err := io.WriteString(stdout, config.MarkdownTable())
		return err
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := newLogger(cfg.LogLevel, stderr)
	defer logger.Sync() //nolint:errcheck // nothing to do about a failed flush at exit

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	ring, err := signingKeys(cfg, logger)
	if err != nil {
		return err
	}
	auth, callerReady, err := callerAuth(ctx, cfg, logger)
	if err != nil {
		return err
	}
	dir, err := userDirectory(cfg, logger)
	if err != nil {
		return err
	}
	minter, err := session.New(session.Config{
		Env: cfg.Env, Issuer: cfg.Issuer, Audience: cfg.Audience,
		Directory: dir, Signer: ring,
	})
	if err != nil {
		return err
	}
	revs, revsReady, err := revocations(ctx, cfg, logger)
	if err != nil {
		return err
	}
	roles := session.Roles{Ops: cfg.OpsRole, Service: cfg.ServiceRole}
	revoker, err := session.NewRevoker(revs, roles, cfg.ClockSkew, nil)
	if err != nil {
		return err
	}
	// The service introspects its own tokens with its own public keys, in
	// process, and the same revocation mirror an edge would use.
	verifier, err := verify.New(verify.Config{
		Env: cfg.Env, Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.ClockSkew,
	}, verify.KeyFunc(ring.PublicKey), revs)
	if err != nil {
		return err
	}
	introspector, err := session.NewIntrospector(verifier, roles)
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := api.NewMetrics(reg)
	if err != nil {
		return err
	}
	engine, err := api.New(api.Deps{
		Logger: logger, Auth: auth, Minter: minter, Revoker: revoker, Introspector: introspector,
		Keys: ring, Metrics: metrics,
		WidgetURLBase: cfg.URLBase, TrustedProxies: cfg.TrustedProxies,
	})
	if err != nil {
		return err
	}

	public := newServer(engine, logger)
	internal := newServer(api.NewInternal(reg, func() error {
		return errors.Join(callerReady(), revsReady())
	}), logger)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, cfg, ring, logger)

	return serve(ctx, logger, cfg.ShutdownTimeout,
		listener{name: "public", addr: cfg.Addr, srv: public},
		listener{name: "internal", addr: cfg.InternalAddr, srv: internal})
}

func newLogger(level string, w io.Writer) *zap.Logger {
	var lvl zapcore.Level
	_ = lvl.Set(level) // validated by config
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w))))
}

// signingKeys loads the signing key file, or makes the embedded default's
// in-memory key (config has already refused that in live).
func signingKeys(cfg config.Config, logger *zap.Logger) (*keys.Ring, error) {
	if cfg.SigningKeys == "" {
		set, err := keys.Ephemeral()
		if err != nil {
			return nil, err
		}
		logger.Warn("NO SIGNING KEYS CONFIGURED: signing with an in-memory key that dies with this process; "+
			"tokens will not survive a restart and no other replica can verify them. Set WIDGET_SIGNING_KEYS.",
			zap.String("kid", set.ActiveKID()))
		return keys.NewRing(set), nil
	}
	ring, err := keys.NewFileRing(cfg.SigningKeys, cfg.SigningKID)
	if err != nil {
		return nil, err
	}
	logger.Info("signing keys loaded", zap.String("file", cfg.SigningKeys), zap.String("active_kid", ring.Current().ActiveKID()))
	return ring, nil
}

// callerAuth builds the caller authenticator: against the identity
// provider's JWKS, or the development identity provider without one.
func callerAuth(ctx context.Context, cfg config.Config, logger *zap.Logger) (api.Authenticator, api.ReadyCheck, error) {
	acfg := callerauth.Config{
		Issuer: cfg.CallerIssuer, Audience: cfg.CallerAudience, Algorithms: cfg.CallerAlgorithms,
		TenantClaim: cfg.CallerTenantClaim, RolesClaim: cfg.CallerRolesClaim, Leeway: cfg.ClockSkew,
	}
	if cfg.DevIDP() {
		idp, err := devidp.LoadOrCreate(cfg.DevIDPKey)
		if err != nil {
			return nil, nil, err
		}
		logger.Warn("DEVELOPMENT IDENTITY PROVIDER: trusting caller JWTs signed by the local dev key; "+
			"get one with `wsctl dev-token`. Set WIDGET_CALLER_JWKS for a real identity provider.",
			zap.String("key_file", cfg.DevIDPKey))
		auth, err := callerauth.New(acfg, idp)
		return auth, func() error { return nil }, err
	}
	cache, err := jwks.New(cfg.CallerJWKS, jwks.Options{
		RefreshInterval:   cfg.CallerJWKSRefresh,
		AllowInsecureHTTP: cfg.Env != "live",
		OnError: func(err error) {
			logger.Warn("caller JWKS refresh failed; keeping the last good keys", zap.Error(err))
		},
	})
	if err != nil {
		return nil, nil, err
	}
	if err := cache.Start(ctx); err != nil {
		// Start anyway: /readyz stays failing until the keys arrive, and
		// mints answer 503 rather than 401 in the meantime.
		logger.Error("caller JWKS not loaded at start-up", zap.Error(err))
	}
	auth, err := callerauth.New(acfg, cache)
	ready := func() error {
		if !cache.Ready() {
			return errors.New("caller JWKS not loaded")
		}
		return nil
	}
	return auth, ready, err
}

// revocationStore is what the service needs of a revocation store: to
// record revocations and, as a validator, to check them.
type revocationStore interface {
	session.RevocationStore
	verify.RevocationChecker
}

// revocations returns the revocation store: Redis shared by every replica
// when WIDGET_REDIS_URL is set, otherwise in memory for this one process.
// The Redis mirror is closed when ctx ends.
func revocations(ctx context.Context, cfg config.Config, logger *zap.Logger) (revocationStore, api.ReadyCheck, error) {
	if cfg.RedisURL == "" {
		logger.Info("revocations in memory: they hold for this process only; set WIDGET_REDIS_URL for several replicas")
		return revoke.NewMemory(time.Now), func() error { return nil }, nil
	}
	redis.RouteClientLogs(logger.Named("go-redis"))
	client, err := redis.NewClient(cfg.RedisURL)
	if err != nil {
		return nil, nil, err
	}
	revs, err := redis.NewRevocations(client, redis.Config{
		Namespace:       "wrev-" + cfg.Env,
		StalenessBudget: cfg.RevocationStaleness,
		Leeway:          cfg.ClockSkew,
		Logger:          logger.Named("revocations"),
	})
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	// A replica that cannot load the revocation set must not serve: it
	// would fail closed on every token anyway. Refusing to start makes the
	// orchestrator retry and the cause visible.
	if err := revs.Start(ctx); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("revocations: redis: %w", err)
	}
	context.AfterFunc(ctx, func() { _ = revs.Close(); _ = client.Close() })
	logger.Info("revocations on redis", zap.Duration("staleness_budget", cfg.RevocationStaleness))
	return revs, revs.Fresh, nil
}

// userDirectory opens the configured directory, or the embedded demo one.
func userDirectory(cfg config.Config, logger *zap.Logger) (widget.UserDirectory, error) {
	if cfg.Directory == "" {
		logger.Warn("DEMO USER DIRECTORY: tenants demo (user_alice, user_bob) and acme (user_carol). Set WIDGET_DIRECTORY.")
		return directory.ParseFile(demo.Directory())
	}
	return directory.Open(cfg.Directory, directory.HTTPOptions{Token: cfg.DirectoryToken})
}

// reloadOnHUP re-reads the signing key file on SIGHUP. A failed reload keeps
// the current keys, so no request ever sees a half-loaded set.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, cfg config.Config, ring *keys.Ring, logger *zap.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if cfg.SigningKeys == "" {
				logger.Warn("SIGHUP: no key file configured, nothing to reload")
				continue
			}
			if err := ring.Reload(); err != nil {
				logger.Error("SIGHUP: key reload failed; keeping the current keys", zap.Error(err))
				continue
			}
			logger.Info("SIGHUP: signing keys reloaded", zap.String("active_kid", ring.Current().ActiveKID()))
		}
	}
}

func newServer(h http.Handler, logger *zap.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10, // room for a large caller JWT, no more
		ErrorLog:          zap.NewStdLog(logger.Named("http")),
	}
}

type listener struct {
	name string
	addr string
	srv  *http.Server
}

// serve listens on every listener, logs each bound address, serves until
// ctx ends or a server fails, then shuts all of them down gracefully.
func serve(ctx context.Context, logger *zap.Logger, grace time.Duration, ls ...listener) error {
	errc := make(chan error, len(ls))
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("%s listener: %w", l.name, err)
		}
		defer ln.Close()
		logger.Info("listening", zap.String("listener", l.name), zap.String("addr", ln.Addr().String()))
		go func(l listener, ln net.Listener) {
			if err := l.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", l.name, err)
			}
		}(l, ln)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, l := range ls {
		if err := l.srv.Shutdown(sctx); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("%s shutdown: %w", l.name, err))
		}
	}
	return serveErr
}
