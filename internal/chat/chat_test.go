package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/wait"

	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Fakes with function fields; a nil function is the happy path.

type fakeLimiter struct {
	allow func(ctx context.Context, key string) (bool, time.Duration, error)
	calls atomic.Int32
}

func (l *fakeLimiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	l.calls.Add(1)
	if l.allow == nil {
		return true, 0, nil
	}
	return l.allow(ctx, key)
}

type fakeAssistant struct {
	reply func(ctx context.Context, req assistant.Request, emit func(string) error) error
	calls atomic.Int32
}

func (a *fakeAssistant) Reply(ctx context.Context, req assistant.Request, emit func(string) error) error {
	a.calls.Add(1)
	if a.reply == nil {
		return emitAll(emit, "Here ", "is ", "the answer.")
	}
	return a.reply(ctx, req, emit)
}

func emitAll(emit func(string) error, deltas ...string) error {
	for _, d := range deltas {
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

type fakeIncidents struct {
	lookup func(ctx context.Context, tenant, id string) (incident.Incident, error)
}

func (i fakeIncidents) Lookup(ctx context.Context, tenant, id string) (incident.Incident, error) {
	if i.lookup == nil {
		return incident.Incident{ID: id, Tenant: tenant, Title: "Checkout down", Severity: "high", Status: "investigating"}, nil
	}
	return i.lookup(ctx, tenant, id)
}

// failingLog is a real in-memory log whose Append may be replaced.
type failingLog struct {
	*events.Memory
	append func(ctx context.Context, sid, typ string, data json.RawMessage, expires time.Time) (events.Event, error)
	rng    func(ctx context.Context, sid, after string, limit int) ([]events.Event, error)
}

func (l *failingLog) Range(ctx context.Context, sid, after string, limit int) ([]events.Event, error) {
	if l.rng != nil {
		return l.rng(ctx, sid, after, limit)
	}
	return l.Memory.Range(ctx, sid, after, limit)
}

func (l *failingLog) Append(ctx context.Context, sid, typ string, data json.RawMessage, expires time.Time) (events.Event, error) {
	if l.append != nil {
		return l.append(ctx, sid, typ, data, expires)
	}
	return l.Memory.Append(ctx, sid, typ, data, expires)
}

type parts struct {
	log       *failingLog
	limiter   *fakeLimiter
	assistant *fakeAssistant
	incidents fakeIncidents
	revs      *revoke.Memory
	// maxReplies and maxTenantReplies are the in-flight bounds; 0: the
	// defaults.
	maxReplies, maxTenantReplies int
	budget                       budget.Store // nil: the default
	tokensPerDay                 int64        // every tenant's; 0: none
	now                          func() time.Time
	quota                        quota.Store // nil: the default, without limits
	quotaLimits                  quota.Limits
}

// newService returns a Service over fakes that edit may change first.
func newService(t *testing.T, edit func(p *parts)) (*chat.Service, *parts) {
	t.Helper()
	mem, err := events.NewMemory(events.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := &parts{log: &failingLog{Memory: mem}, limiter: &fakeLimiter{}, assistant: &fakeAssistant{}, revs: revoke.NewMemory(time.Now, revoke.Limits{})}
	if edit != nil {
		edit(p)
	}
	cfg := chat.Config{Log: p.log, Assistant: p.assistant, Incidents: p.incidents, Limiter: p.limiter, Stops: &chat.LocalStops{},
		Revocations: p.revs, Logger: zap.NewNop(), MaxReplies: p.maxReplies}
	if p.maxTenantReplies > 0 {
		cfg.MaxTenantReplies = func(string) int { return p.maxTenantReplies }
	}
	if p.tokensPerDay > 0 {
		cfg.Budget, cfg.TokensPerDay = p.budget, func(string) int64 { return p.tokensPerDay }
	}
	if p.quota != nil {
		cfg.Quota, cfg.QuotaLimits = p.quota, func(string) quota.Limits { return p.quotaLimits }
	}
	if p.now != nil {
		cfg.Now = func() time.Time { return p.now() }
	}
	s, err := chat.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, p
}

// claims are a live session's, naming incident inc when not empty.
func claims(t *testing.T, inc string) *token.Claims {
	t.Helper()
	now := time.Now()
	sid, err := sessionid.New(now)
	if err != nil {
		t.Fatal(err)
	}
	return &token.Claims{Subject: "user_alice", Tenant: "demo", SessionID: sid, ID: sid, Incident: inc,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(time.Hour).Unix(), Scope: token.Scope}
}

func all(t *testing.T, log events.Log, sid string) []events.Event {
	t.Helper()
	evs, err := log.Range(context.Background(), sid, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// untilReplied polls sid's log until its last event ends a reply, and
// returns the log.
func untilReplied(t *testing.T, log events.Log, sid string) []events.Event {
	t.Helper()
	var evs []events.Event
	wait.For(t, "a reply ended", func() bool {
		evs = all(t, log, sid)
		n := len(evs)
		return n > 0 && (evs[n-1].Type == events.ResponseCompleted || evs[n-1].Type == events.Error)
	}, func() string { return fmt.Sprintf("log %+v", evs) })
	return evs
}

func wantCode(t *testing.T, err error, code string) *widget.Error {
	t.Helper()
	var we *widget.Error
	if !errors.As(err, &we) || we.Code != code {
		t.Fatalf("error %v, want a widget error %s", err, code)
	}
	return we
}

func decode[T any](t *testing.T, e events.Event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(e.Data, &v); err != nil {
		t.Fatalf("%s data %s: %v", e.Type, e.Data, err)
	}
	return v
}

func TestSendValidatesContent(t *testing.T) {
	s, p := newService(t, nil)
	c := claims(t, "")
	for _, tt := range []struct {
		name, content string
		ok            bool
	}{
		{"empty", "", false},
		{"over 4096 bytes", strings.Repeat("a", chat.MaxMessageBytes+1), false},
		{"over 4096 bytes of runes", strings.Repeat("é", chat.MaxMessageBytes/2+1), false},
		{"invalid UTF-8", "a\xffb", false},
		{"truncated rune", "caf\xc3", false},
		{"4096 bytes", strings.Repeat("a", chat.MaxMessageBytes), true},
		{"4096 bytes of runes", strings.Repeat("é", chat.MaxMessageBytes/2), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, calls := len(all(t, p.log, c.SessionID)), p.limiter.calls.Load()
			id, err := s.Send(context.Background(), c, chat.Message{Content: tt.content})
			if tt.ok {
				if err != nil || !strings.HasPrefix(id, "msg_") {
					t.Fatalf("Send = %q, %v; want a msg_ id", id, err)
				}
				untilReplied(t, p.log, c.SessionID)
				return
			}
			we := wantCode(t, err, widget.CodeValidation)
			if we.Field != "content" || !strings.HasPrefix(we.Message, "content: ") {
				t.Errorf("field %q, message %q: want them to name content", we.Field, we.Message)
			}
			if p.limiter.calls.Load() != calls || len(all(t, p.log, c.SessionID)) != before {
				t.Error("an invalid message counted against the limit or reached the log")
			}
		})
	}
}

func TestSendLimits(t *testing.T) {
	down := errors.New("test: limiter down")
	for _, tt := range []struct {
		name      string
		allow     func(ctx context.Context, key string) (bool, time.Duration, error)
		code      string
		retry     time.Duration
		wantCause error
	}{
		{"rate limited", func(context.Context, string) (bool, time.Duration, error) { return false, 7 * time.Second, nil }, widget.CodeRateLimited, 7 * time.Second, nil},
		{"limiter down", func(context.Context, string) (bool, time.Duration, error) { return false, 0, down }, widget.CodeDependencyUnavailable, 0, down},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var key string
			s, p := newService(t, func(p *parts) {
				p.limiter.allow = func(ctx context.Context, k string) (bool, time.Duration, error) {
					key = k
					return tt.allow(ctx, k)
				}
			})
			c := claims(t, "")
			_, err := s.Send(context.Background(), c, chat.Message{Content: "hello"})
			we := wantCode(t, err, tt.code)
			if we.RetryAfter != tt.retry {
				t.Errorf("RetryAfter = %v, want %v", we.RetryAfter, tt.retry)
			}
			if tt.wantCause != nil && !errors.Is(err, tt.wantCause) {
				t.Errorf("error %v does not wrap the limiter's", err)
			}
			if key != c.SessionID {
				t.Errorf("limited by key %q, want the session id", key)
			}
			s.Close()
			if n := len(all(t, p.log, c.SessionID)); n != 0 || p.assistant.calls.Load() != 0 {
				t.Errorf("a refused message left %d events and %d replies", n, p.assistant.calls.Load())
			}
		})
	}
}

func TestSendLogFailure(t *testing.T) {
	down := fmt.Errorf("test: %w", events.ErrUnavailable)
	s, p := newService(t, func(p *parts) {
		p.log.append = func(context.Context, string, string, json.RawMessage, time.Time) (events.Event, error) {
			return events.Event{}, down
		}
	})
	_, err := s.Send(context.Background(), claims(t, ""), chat.Message{Content: "hello"})
	wantCode(t, err, widget.CodeDependencyUnavailable)
	if !errors.Is(err, events.ErrUnavailable) {
		t.Errorf("error %v does not wrap the log's", err)
	}
	s.Close() // waits for any reply started
	if n := p.assistant.calls.Load(); n != 0 {
		t.Errorf("%d replies started for a message the log did not take", n)
	}
}
