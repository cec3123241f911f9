package keys

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/internal/audit"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// WatchConfig says which files a Watch watches, and how often.
type WatchConfig struct {
	KeyFile  string // the JWK Set file (WIDGET_SIGNING_KEYS)
	KIDFile  string // the active kid's file (WIDGET_SIGNING_KID_FILE); "": none
	Interval time.Duration
	// Audit receives a keys.reloaded event for every reload tried, taken
	// or refused; nil: none.
	Audit *audit.Log
}

// Watch reloads the signing keys when their files change, as a file
// mounted from a Kubernetes Secret does in place, or on SIGHUP. The key
// file's keys are published (and the ones removed from it withdrawn); the
// kid file, when configured, names the key that signs. A change that does
// not load is refused and the current keys kept (or, for a withdrawn
// signing key, signing stopped: see Ring.Reload), said once, and counted.
type Watch struct {
	cfg     WatchConfig
	ring    *Ring
	logger  *zap.Logger
	reloads *prometheus.CounterVec // by result: ok, refused

	loaded [2][sha256.Size]byte // the key file's and the kid file's contents last loaded
	failed [2][sha256.Size]byte // and last refused: not said again
	kid    string               // the active kid the kid file named
}

// NewWatch returns the Watch of ring, loaded from cfg's files, with its
// metrics registered on reg.
func NewWatch(cfg WatchConfig, ring *Ring, logger *zap.Logger, reg prometheus.Registerer) (*Watch, error) {
	if cfg.Interval <= 0 {
		return nil, errors.New("keys: the watch interval must be positive")
	}
	w := &Watch{cfg: cfg, ring: ring, logger: logger, kid: ring.Current().ActiveKID()}
	w.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "widget_sessions_key_reloads_total",
		Help: "Reloads of the signing keys (a file change or SIGHUP), by result: ok, or refused (the current keys kept, or signing stopped when the active key was withdrawn).",
	}, []string{"result"})
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "widget_sessions_signing_key_active",
		Help: "1 while a signing key is active; 0 while none is (the active key was withdrawn from the key file): mints answer 503.",
	}, func() float64 {
		if ring.Ready() != nil {
			return 0
		}
		return 1
	})
	for _, c := range []prometheus.Collector{w.reloads, active} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	w.reloads.WithLabelValues("refused") // exported at 0, for the alert's increase()
	w.loaded, _ = w.sums()               // what signingKeys loaded at start
	return w, nil
}

// ReadKIDFile returns the kid the file at path holds.
func ReadKIDFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("signing kid file: %w", err)
	}
	kid := strings.TrimSpace(string(b))
	if kid == "" || len(kid) > 256 || strings.ContainsAny(kid, " \t\r\n") {
		return "", errors.New("signing kid file: must hold one kid")
	}
	return kid, nil
}

func (w *Watch) sums() ([2][sha256.Size]byte, error) {
	var s [2][sha256.Size]byte
	for i, path := range []string{w.cfg.KeyFile, w.cfg.KIDFile} {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return s, err
		}
		s[i] = sha256.Sum256(b)
	}
	return s, nil
}

// check reloads the keys if their files changed since they were last
// loaded, or at once when force (SIGHUP). why says what asked.
func (w *Watch) check(force bool, why string) {
	sums, err := w.sums()
	if err == nil && !force && (sums == w.loaded || sums == w.failed) {
		return
	}
	if err == nil {
		err = w.reload()
	}
	w.audit(why, err)
	if err != nil {
		w.reloads.WithLabelValues("refused").Inc()
		switch {
		case errors.Is(err, ErrNoActiveKey) && (force || sums != w.failed):
			w.logger.Error("SIGNING STOPPED: the active key was withdrawn from the key file; it is no longer published, "+
				"mints answer 503 and this replica is not ready until the kid file names a key the file holds",
				zap.String("trigger", why), zap.Error(err))
		case force || sums != w.failed:
			w.logger.Error("key reload failed; keeping the current keys", zap.String("trigger", why), zap.Error(err))
		}
		w.failed = sums
		return
	}
	w.reloads.WithLabelValues("ok").Inc()
	w.loaded, w.failed = sums, [2][sha256.Size]byte{}
	w.logger.Info("signing keys reloaded", zap.String("trigger", why), zap.String("active_kid", w.ring.Current().ActiveKID()))
}

// audit records a reload tried: by the system, why it ran, the active kid
// after it, and whether it was taken.
func (w *Watch) audit(why string, err error) {
	e := audit.Event{Type: audit.KeysReloaded, Actor: audit.Actor{Kind: audit.KindSystem}, Outcome: audit.OK, Reason: why,
		Target: audit.Target{KeyID: w.ring.Current().ActiveKID()}}
	if err != nil {
		e.Outcome, e.Code = audit.Refused, "reload_refused"
		if errors.Is(err, ErrNoActiveKey) {
			e.Code = "no_active_key"
		}
	}
	w.cfg.Audit.Record(&e)
}

func (w *Watch) reload() error {
	if w.cfg.KIDFile == "" {
		return w.ring.Reload()
	}
	kid, err := ReadKIDFile(w.cfg.KIDFile)
	if err != nil {
		return err
	}
	if kid == w.kid {
		return w.ring.Reload()
	}
	if err := w.ring.ReloadActive(kid); err != nil {
		return err
	}
	w.kid = kid
	return nil
}

// Run checks every interval, and on each hup, until ctx ends.
func (w *Watch) Run(ctx context.Context, hup <-chan os.Signal) {
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			w.check(false, "file change")
		case <-hup:
			w.check(true, "SIGHUP")
		}
	}
}
