package main

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/demo"
	"github.com/causeflow/widget-sessions/internal/devidp"
	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/internal/tenants"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// wiring is what every surface of a replica is built from.
type wiring struct {
	reg       prometheus.Registerer
	cfg       config.Config
	logger    *zap.Logger
	metrics   *api.Metrics
	tracing   trace.TracerProvider
	stores    *stores
	incidents *incident.Service
	tenants   *tenants.Store
}

// apiParts is the minting API with what run needs of it: its signing keys
// (watched for changes) and readiness check.
type apiParts struct {
	surface api.Surface
	ring    *keys.Ring
	ready   api.ReadyCheck
}

// api builds the minting API (mint, revoke, introspect, JWKS).
func (w wiring) api(ctx context.Context) (apiParts, error) {
	cfg, logger, metrics, tracing, st, incidents := w.cfg, w.logger, w.metrics, w.tracing, w.stores, w.incidents
	ring, err := signingKeys(cfg, logger)
	if err != nil {
		return apiParts{}, err
	}
	auth, callerReady, err := callerAuth(ctx, cfg, logger)
	if err != nil {
		return apiParts{}, err
	}
	dir, err := userDirectory(cfg, logger)
	if err != nil {
		return apiParts{}, err
	}
	mintLimiter, err := ratelimit.NewMemory(cfg.Mint.RateLimit, cfg.Mint.RateWindow, time.Now)
	if err != nil {
		return apiParts{}, err
	}
	minter, err := session.New(session.Config{
		Env: cfg.Env, Issuer: cfg.Token.Issuer, Audience: cfg.Token.Audience,
		Directory: dir, Signer: ring, Incidents: incidents, Limiter: mintLimiter,
		Tracer: tracing.Tracer("github.com/causeflow/widget-sessions/internal/session"),
		OnContextUnavailable: func(tenant, id string, err error) {
			logger.Warn("incident source unavailable at mint; minted without warming the context",
				zap.String("tenant", tenant), zap.String("incident", id), zap.Error(err))
		},
	})
	if err != nil {
		return apiParts{}, err
	}
	roles := session.Roles{Ops: cfg.Roles.Ops, Service: cfg.Roles.Service, OpsTenant: cfg.Roles.OpsTenant}
	revoker, err := session.NewRevoker(st.revs, st.revokeLimiter, roles, cfg.Token.ClockSkew, nil)
	if err != nil {
		return apiParts{}, err
	}
	// The service introspects its own tokens with its own public keys, in
	// process, and the same revocation mirror an edge uses.
	verifier, err := verify.New(verify.Config{
		Env: cfg.Env, Issuer: cfg.Token.Issuer, Audience: cfg.Token.Audience, Leeway: cfg.Token.ClockSkew,
	}, verify.KeyFunc(ring.PublicKey), st.revs)
	if err != nil {
		return apiParts{}, err
	}
	introspector, err := session.NewIntrospector(verifier, roles)
	if err != nil {
		return apiParts{}, err
	}
	surface, err := api.API(api.APIOptions{
		Auth: auth, Minter: minter, Revoker: revoker, Introspector: introspector, Keys: ring, Metrics: metrics, WidgetURLBase: cfg.Mint.URLBase,
	})
	if err != nil {
		return apiParts{}, err
	}
	// An API replica that cannot sign is not ready: the withdrawn key's
	// replicas leave the load balancer until an active key is named.
	return apiParts{surface: surface, ring: ring, ready: func() error { return errors.Join(ring.Ready(), callerReady()) }}, nil
}

// incidentService opens the incident source (or the embedded demo
// incidents) behind the context cache.
func incidentService(cfg config.Config, st *stores, logger *zap.Logger) (*incident.Service, error) {
	var src incident.Source
	if cfg.Sources.Incidents == "" {
		logger.Warn("DEMO INCIDENTS: the embedded demo incidents (tenant demo: inc_EXAMPLE_01JX, inc_DB_POOL_02; acme: inc_ACME_CDN_01). Set WIDGET_INCIDENTS.")
		f, err := incident.ParseFile(demo.Incidents())
		if err != nil {
			return nil, err
		}
		src = f
	} else {
		var err error
		if src, err = incident.Open(cfg.Sources.Incidents, incident.HTTPOptions{Token: cfg.Sources.IncidentsToken}); err != nil {
			return nil, err
		}
	}
	return incident.NewService(src, st.incidentCache, cfg.Sources.ContextTTL, logger.Named("incidents"), nil), nil
}

// signingKeys loads the signing key file, or makes the embedded default's
// in-memory key (config has already refused that in live).
func signingKeys(cfg config.Config, logger *zap.Logger) (*keys.Ring, error) {
	if cfg.Keys.File == "" {
		set, err := keys.Ephemeral()
		if err != nil {
			return nil, err
		}
		logger.Warn("NO SIGNING KEYS CONFIGURED: signing with an in-memory key that dies with this process; "+
			"tokens will not survive a restart and no other replica can verify them. Set WIDGET_SIGNING_KEYS.",
			zap.String("kid", set.ActiveKID()))
		return keys.NewRing(set), nil
	}
	kid := cfg.Keys.KID
	if cfg.Keys.KIDFile != "" {
		var err error
		if kid, err = keys.ReadKIDFile(cfg.Keys.KIDFile); err != nil {
			return nil, err
		}
	}
	ring, err := keys.NewFileRing(cfg.Keys.File, kid)
	if err != nil {
		return nil, err
	}
	logger.Info("signing keys loaded", zap.String("file", cfg.Keys.File), zap.String("active_kid", ring.Current().ActiveKID()))
	return ring, nil
}

// callerAuth builds the caller authenticator: against the identity
// provider's JWKS, or the development identity provider without one.
func callerAuth(ctx context.Context, cfg config.Config, logger *zap.Logger) (api.Authenticator, api.ReadyCheck, error) {
	acfg := callerauth.Config{
		Issuer: cfg.Caller.Issuer, Audience: cfg.Caller.Audience, Algorithms: cfg.Caller.Algorithms,
		TenantClaim: cfg.Caller.TenantClaim, RolesClaim: cfg.Caller.RolesClaim, Leeway: cfg.Token.ClockSkew,
		Typ: cfg.Caller.Typ,
	}
	if cfg.DevIDP() {
		idp, err := devidp.LoadOrCreate(cfg.Caller.DevIDPKey)
		if err != nil {
			return nil, nil, err
		}
		logger.Warn("DEVELOPMENT IDENTITY PROVIDER: trusting caller JWTs signed by the local dev key; "+
			"get one with `wsctl dev-token`. Set WIDGET_CALLER_JWKS for a real identity provider.",
			zap.String("key_file", idp.File()))
		auth, err := callerauth.New(acfg, idp)
		return auth, func() error { return nil }, err
	}
	cache, err := jwks.New(cfg.Caller.JWKS, jwks.Options{
		RefreshInterval:   cfg.Caller.JWKSRefresh,
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

// userDirectory opens the configured directory, or the embedded demo one.
func userDirectory(cfg config.Config, logger *zap.Logger) (widget.UserDirectory, error) {
	if cfg.Sources.Directory == "" {
		logger.Warn("DEMO USER DIRECTORY: tenants demo (user_alice, user_bob) and acme (user_carol). Set WIDGET_DIRECTORY.")
		return directory.ParseFile(demo.Directory())
	}
	return directory.Open(cfg.Sources.Directory, directory.HTTPOptions{Token: cfg.Sources.DirectoryToken})
}
