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

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/audit"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/config"
	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/stream"
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
	logger, closeLog := newLogger(cfg.Log.Level, cfg.Log.FlushInterval, stderr)
	for _, w := range cfg.Warnings() {
		logger.Warn("configuration: " + w)
	}

	ctx, cancel := context.WithCancel(ctx)
	// What run starts is stopped in the one order written in stop, after
	// the listeners have shut down, and also when wiring fails half-way.
	st := &stopping{logger: logger, grace: cfg.Server.ShutdownTimeout, cancel: cancel, closeLog: closeLog}
	defer st.stop()

	trail, err := audit.Open(cfg.Log.Audit, stdout, cfg.Log.FlushInterval)
	if err != nil {
		return fmt.Errorf("WIDGET_AUDIT_LOG: %w", err)
	}
	st.audit = trail

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := api.NewMetrics(reg)
	if err != nil {
		return err
	}
	tracing, stopTracing, err := newTracing(ctx, cfg)
	if err != nil {
		return err
	}
	st.tracing = stopTracing
	// The tenants' settings first: a source that does not read stops the
	// start before anything is dialled.
	tenantSettings, err := openTenants(ctx, cfg, logger, reg)
	if err != nil {
		return err
	}
	go tenantSettings.Run(ctx, cfg.Tenants.Interval) // until st.stop cancels ctx
	stores, err := openStores(ctx, cfg, logger, reg, tracing)
	if err != nil {
		return err
	}
	st.stores = stores
	incidents, err := incidentService(cfg, stores, logger)
	if err != nil {
		return err
	}

	// WIDGET_SERVE chooses the surfaces this replica mounts on its public
	// listener: the minting API, the edge, or both.
	w := wiring{reg: reg, cfg: cfg, logger: logger, metrics: metrics, tracing: tracing, stores: stores, incidents: incidents, tenants: tenantSettings}
	var surfaces []api.Surface
	ready := []api.ReadyCheck{stores.revsReady}
	var ring *keys.Ring // nil on an edge-only replica
	if cfg.ServeAPI() {
		a, err := w.api(ctx)
		if err != nil {
			return err
		}
		surfaces, ring = append(surfaces, a.surface), a.ring
		ready = append(ready, a.ready)
	}
	var streams *stream.Hub // nil on an API-only replica
	if cfg.ServeEdge() {
		am, err := assistant.NewMetrics(reg)
		if err != nil {
			return err
		}
		asst, err := newAssistant(cfg, logger, am.Usage)
		if err != nil {
			return err
		}
		e, err := w.edge(ctx, ring, asst, am)
		if err != nil {
			return err
		}
		surfaces = append(surfaces, e.surface)
		st.chat, st.hub = e.chat, e.hub
		streams = e.hub
		ready = append(ready, e.ready)
	}
	engine, err := api.NewServer(api.ServerOptions{
		Logger: logger, Metrics: metrics, Tracing: tracing, TrustedProxies: cfg.Server.TrustedProxies, Audit: trail,
	}, surfaces...)
	if err != nil {
		return err
	}

	public := newServer(engine, logger)
	// Shutdown waits for requests in flight, and a stream never ends by
	// itself: streams are told to reconnect elsewhere first.
	if streams != nil {
		public.RegisterOnShutdown(streams.Drain)
	}
	internal := newServer(api.NewInternal(reg, func() error {
		var errs []error
		for _, r := range ready {
			errs = append(errs, r())
		}
		return errors.Join(errs...)
	}, stores.warnings, cfg.Server.Pprof), logger)

	if ring != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		st.hup = hup
		if cfg.Keys.File == "" {
			go warnOnHUP(ctx, hup, logger)
		} else {
			w, err := keys.NewWatch(keys.WatchConfig{KeyFile: cfg.Keys.File, KIDFile: cfg.Keys.KIDFile, Interval: cfg.Keys.WatchInterval, Audit: trail}, ring, logger, reg)
			if err != nil {
				return err
			}
			go w.Run(ctx, hup)
		}
	}

	logger.Info("serving", zap.String("surfaces", cfg.Server.Serve), zap.String("env", cfg.Env))
	return serve(ctx, logger, cfg.Server.ShutdownTimeout,
		listener{name: "public", addr: cfg.Server.Addr, srv: public},
		listener{name: "internal", addr: cfg.Server.InternalAddr, srv: internal})
}

// stopping holds what run has started, and stops it. Each field is set as
// its part starts; a part never started is skipped.
type stopping struct {
	logger   *zap.Logger
	grace    time.Duration // WIDGET_SHUTDOWN_TIMEOUT
	hup      chan os.Signal
	chat     *chat.Service
	hub      *stream.Hub
	stores   *stores
	tracing  func(context.Context) error
	audit    *audit.Log
	cancel   context.CancelFunc
	closeLog func()
}

// stop is the shutdown order, after serve has shut the listeners down
// (which drains the streams first: each is told to reconnect elsewhere).
func (s *stopping) stop() {
	if s.hup != nil { // 1. no more key reloads
		signal.Stop(s.hup)
	}
	if s.chat != nil { // 2. replies in flight end, each recording a final error event
		s.chat.Close()
	}
	if s.hub != nil { // 3. streams, served apart from net/http, drained and waited for
		s.hub.Drain()
		ctx, cancel := context.WithTimeout(context.Background(), s.grace)
		if err := s.hub.Wait(ctx); err != nil {
			s.logger.Warn("streams still open at the end of the shutdown", zap.Int("streams", s.hub.Streams()))
		}
		cancel()
		s.hub.Close()
	}
	if s.stores != nil { // 4. Redis: subscriptions, the mirror, connections
		s.stores.close()
	}
	if s.tracing != nil { // 5. traces, the shutdown's included, exported
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.tracing(ctx); err != nil {
			s.logger.Warn("traces not all exported at shutdown", zap.Error(err))
		}
		cancel()
	}
	if err := s.audit.Close(); err != nil { // 6. the audit trail, written out
		s.logger.Error("audit trail not all written", zap.Error(err))
	}
	s.cancel()   // 7. whatever still watches run's context
	s.closeLog() // 8. the log, written out
}

// newLogger returns the process's logger, writing JSON lines to w, and the
// function that writes out what it buffers and stops it. With a flush
// interval, lines below warn wait in a buffer for at most that long, so
// that a request's access-log line costs no write of its own; a warn or
// error line is written at once, after everything before it.
func newLogger(level string, flush time.Duration, w io.Writer) (*zap.Logger, func()) {
	var lvl zapcore.Level
	_ = lvl.Set(level) // validated by config
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	out := zapcore.Lock(unsyncable{zapcore.AddSync(w)})
	if flush <= 0 {
		logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), out, lvl), zap.ErrorOutput(out))
		return logger, func() { _ = logger.Sync() }
	}
	buffered := &zapcore.BufferedWriteSyncer{WS: out, Size: 256 << 10, FlushInterval: flush}
	core := &syncFrom{Core: zapcore.NewCore(zapcore.NewJSONEncoder(enc), buffered, lvl), level: zapcore.WarnLevel}
	return zap.New(core, zap.ErrorOutput(out)), func() { _ = buffered.Stop() }
}

// unsyncable is a log destination whose Sync ignores the errors of a file
// that cannot be synced: stderr is a pipe under every container runtime,
// systemd and `| tee`, and fsync on a pipe or terminal fails with EINVAL
// (or ENOTSUP, ENOTTY) although every byte was written. Reported, that
// error would print "write error: sync /dev/stderr" after each warning.
type unsyncable struct{ zapcore.WriteSyncer }

func (u unsyncable) Sync() error {
	err := u.WriteSyncer.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.ENOTTY) {
		return nil
	}
	return err
}

// syncFrom is a core that writes its buffer out after every entry at level
// or above, so that a warning or an error is never held back. It is used by
// pointer: Check hands the core to every entry, and a struct value would be
// copied to the heap each time.
type syncFrom struct {
	zapcore.Core
	level zapcore.Level
}

func (c *syncFrom) With(fields []zapcore.Field) zapcore.Core {
	return &syncFrom{Core: c.Core.With(fields), level: c.level}
}

func (c *syncFrom) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *syncFrom) Write(e zapcore.Entry, fields []zapcore.Field) error {
	err := c.Core.Write(e, fields)
	if e.Level >= c.level {
		err = errors.Join(err, c.Sync())
	}
	return err
}

// warnOnHUP answers SIGHUP when the keys are the in-memory default: there
// is no file to reload.
func warnOnHUP(ctx context.Context, hup <-chan os.Signal, logger *zap.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			logger.Warn("SIGHUP: no key file configured, nothing to reload")
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
		_ = logger.Sync() // what a supervisor (or a test) waits for
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
