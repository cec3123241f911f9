// Package audit is the service's audit trail: one JSON line per event a
// security team keeps (who minted a session for whom, who revoked what, who
// was refused), on a sink of its own (WIDGET_AUDIT_LOG: stdout or a file),
// apart from the operational log. The schema is stable and documented in
// docs/audit.md; a line never holds a token, a key or an Authorization
// header: an event only has fields for ids, roles, codes and statuses.
//
//	{"time":"2026-12-06T23:59:01.123456789Z","event":"session.created","requestId":"…",
//	 "actor":{"kind":"caller","subject":"backend","tenant":"acme","roles":["admin"]},
//	 "target":{"tenant":"acme","user":"user_alice","session":"wsess_…"},"outcome":"ok","status":201}
package audit

import (
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The event types: the schema's "event".
const (
	SessionCreated        = "session.created"
	SessionRevoked        = "session.revoked"
	UserSessionsRevoked   = "user.sessions_revoked"
	TenantSessionsRevoked = "tenant.sessions_revoked"
	ResponseStopped       = "response.stopped"
	ResponseRated         = "response.rated"
	CallerRefused         = "caller.refused"
	KeysReloaded          = "keys.reloaded"
	LimitRefused          = "limit.refused"
)

// Actor kinds.
const (
	KindCaller  = "caller"  // a backend or an operator, by its caller JWT
	KindSession = "session" // a widget user, by their session token
	KindSystem  = "system"  // the service itself (a key file changed, SIGHUP)
	KindUnknown = "unknown" // refused before anyone could be named
)

// Outcomes.
const (
	OK      = "ok"
	Refused = "refused"
)

// Actor is who did it. Roles are the caller's as its JWT states them.
type Actor struct {
	Kind    string
	Subject string
	Tenant  string
	Roles   []string
}

// Target is what it was done to: the ids that apply, the others empty.
type Target struct {
	Tenant   string
	User     string
	Session  string
	Incident string
	Message  string
	Route    string // for a refusal: the route refused
	KeyID    string // keys.reloaded: the active kid after the reload
}

// Event is one line of the trail.
type Event struct {
	Type      string
	RequestID string
	Actor     Actor
	Target    Target
	Outcome   string
	Status    int    // the HTTP status, for an event of a request
	Code      string // the error code of a refusal
	Reason    string // what asked (keys.reloaded: "file change", "SIGHUP")
	Rating    string // response.rated: "up" or "down" (never the user's words)
}

// Log writes the trail. Its methods are safe for concurrent use; a nil
// *Log records nothing.
type Log struct {
	logger *zap.Logger
	sync   *zapcore.BufferedWriteSyncer
	file   *os.File
}

// Open returns the trail on spec: "stdout" (the process's stdout, given as
// out) or a file path, opened for appending (0600, created if missing).
// Lines are buffered and written at least every flush (and at 256 KiB),
// as the operational log's are; zero writes each line at once. Close
// writes what is buffered.
func Open(spec string, out io.Writer, flush time.Duration) (*Log, error) {
	l := &Log{}
	var w zapcore.WriteSyncer
	switch spec {
	case "stdout":
		// Written, never synced: fsync of a pipe or a terminal fails
		// (EINVAL), and a stream has nothing to make durable.
		w = zapcore.AddSync(writeOnly{out})
	default:
		f, err := os.OpenFile(spec, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		l.file, w = f, f
	}
	if flush > 0 {
		l.sync = &zapcore.BufferedWriteSyncer{WS: w, Size: 256 << 10, FlushInterval: flush}
		w = l.sync
	}
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{
		TimeKey:        "time",
		MessageKey:     "event",
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		LineEnding:     zapcore.DefaultLineEnding,
	})
	l.logger = zap.New(zapcore.NewCore(enc, w, zapcore.InfoLevel))
	return l, nil
}

// writeOnly hides a writer's Sync (an *os.File's) from zap.
type writeOnly struct{ io.Writer }

// Record writes e as one line.
func (l *Log) Record(e *Event) {
	if l == nil {
		return
	}
	if ce := l.logger.Check(zapcore.InfoLevel, e.Type); ce != nil {
		ce.Write(zap.Inline(e))
	}
}

// Close writes what is buffered and closes a file sink.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	var err error
	if l.sync != nil {
		err = l.sync.Stop()
	}
	if l.file != nil {
		if cerr := l.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// MarshalLogObject writes the event's fields, empty ones left out.
func (e *Event) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if e.RequestID != "" {
		enc.AddString("requestId", e.RequestID)
	}
	_ = enc.AddObject("actor", &e.Actor)
	_ = enc.AddObject("target", &e.Target)
	enc.AddString("outcome", e.Outcome)
	if e.Status != 0 {
		enc.AddInt("status", e.Status)
	}
	if e.Code != "" {
		enc.AddString("code", e.Code)
	}
	if e.Reason != "" {
		enc.AddString("reason", e.Reason)
	}
	if e.Rating != "" {
		enc.AddString("rating", e.Rating)
	}
	return nil
}

// MarshalLogObject writes the actor.
func (a *Actor) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddString("kind", a.Kind)
	addString(enc, "subject", a.Subject)
	addString(enc, "tenant", a.Tenant)
	if a.Kind == KindCaller {
		_ = enc.AddArray("roles", (*roles)(&a.Roles))
	}
	return nil
}

// roles writes a caller's roles as a JSON array.
type roles []string

func (r *roles) MarshalLogArray(arr zapcore.ArrayEncoder) error {
	for _, role := range *r {
		arr.AppendString(role)
	}
	return nil
}

// MarshalLogObject writes the target's ids that are set.
func (t *Target) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	addString(enc, "tenant", t.Tenant)
	addString(enc, "user", t.User)
	addString(enc, "session", t.Session)
	addString(enc, "incident", t.Incident)
	addString(enc, "message", t.Message)
	addString(enc, "route", t.Route)
	addString(enc, "kid", t.KeyID)
	return nil
}

func addString(enc zapcore.ObjectEncoder, k, v string) {
	if v != "" {
		enc.AddString(k, v)
	}
}
