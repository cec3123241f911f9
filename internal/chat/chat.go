// Package chat is the widget's conversation: it accepts a user's message
// into the session's event log and produces the assistant's reply there,
// delta by delta, so that every open stream of the session, on any replica,
// sees the same events in the same order.
package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/segmentio/ksuid"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/locale"
	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// MaxMessageBytes bounds a user's message.
const MaxMessageBytes = 4 << 10

// Incidents looks up an incident's context (cache, then source).
type Incidents interface {
	Lookup(ctx context.Context, tenant, id string) (incident.Incident, error)
}

// Revocations pushes every revocation applied on this replica (its own,
// or another replica's through Redis): revoke.Memory and redis.Revocations,
// the push that ends a revoked session's streams.
type Revocations interface {
	Subscribe(fn func(revoke.Entry)) (cancel func())
}

// Config holds a Service's dependencies.
type Config struct {
	Log          events.Log
	Assistant    assistant.Assistant
	Incidents    Incidents
	Limiter      ratelimit.Limiter // messages, per session
	Stops        Stops             // carries stop requests to the replica running a reply
	Revocations  Revocations       // a revoked session's replies are cancelled
	Logger       *zap.Logger
	ReplyTimeout time.Duration // bounds one reply; default 2 minutes
	// MaxReplies bounds the replies this replica runs at once, whatever
	// their tenants; MaxTenantReplies(tenant) those of one tenant. Past
	// either, a message is refused (429 too_many_replies) before it is
	// accepted. Default 200 and 20.
	MaxReplies       int
	MaxTenantReplies func(tenant string) int
	// Budget counts each tenant's model tokens per UTC day, as the
	// upstream reports them; TokensPerDay(tenant) is its budget (0: none).
	// Past it, a message is refused (429 model_budget_exhausted) until the
	// day ends. Default: no budgets.
	Budget       budget.Store
	TokensPerDay func(tenant string) int64
	// Quota counts each tenant's session logs and their bytes;
	// QuotaLimits(tenant) are its caps. Past one, a message is refused
	// (429 storage_quota_exceeded) before it is accepted. Default: none.
	Quota       quota.Store
	QuotaLimits func(tenant string) quota.Limits
	Now         func() time.Time
}

// Service runs conversations.
type Service struct {
	cfg     Config
	replies sync.WaitGroup
	stop    context.Context // cancelled by Close: replies in flight end
	cancel  context.CancelFunc

	runMu   sync.Mutex
	running map[string]runningReply // the replies this replica runs, by session and message
	// slots counts the replies running or about to, in all and by tenant:
	// the in-flight bounds.
	slots    int
	byTenant map[string]int
	unsub    func()
}

// runningReply is a reply this replica runs: the session it answers, and
// how to end it.
type runningReply struct {
	claims *token.Claims
	cancel context.CancelCauseFunc
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Log == nil || cfg.Assistant == nil || cfg.Incidents == nil || cfg.Limiter == nil || cfg.Stops == nil || cfg.Revocations == nil || cfg.Logger == nil {
		return nil, errors.New("chat: log, assistant, incidents, limiter, stops, revocations and logger are required")
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = 2 * time.Minute
	}
	if cfg.MaxReplies <= 0 {
		cfg.MaxReplies = DefaultMaxReplies
	}
	if cfg.MaxTenantReplies == nil {
		cfg.MaxTenantReplies = func(string) int { return DefaultMaxTenantReplies }
	}
	if cfg.Budget == nil {
		cfg.Budget = budget.NewMemory()
	}
	if cfg.TokensPerDay == nil {
		cfg.TokensPerDay = func(string) int64 { return 0 }
	}
	if cfg.Quota == nil {
		cfg.Quota = quota.NewMemory()
	}
	if cfg.QuotaLimits == nil {
		cfg.QuotaLimits = func(string) quota.Limits { return quota.Limits{} }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, stop: ctx, cancel: cancel, running: map[string]runningReply{}, byTenant: map[string]int{}}
	cfg.Stops.Listen(s.stopLocal)
	s.unsub = cfg.Revocations.Subscribe(s.revoked)
	return s, nil
}

// Defaults of the in-flight bounds.
const (
	DefaultMaxReplies       = 200
	DefaultMaxTenantReplies = 20
)

// reserve takes a reply slot for tenant, or refuses when this replica runs
// as many replies as it may, in all or for the tenant. The returned
// function gives the slot back.
func (s *Service) reserve(tenant string) (release func(), err error) {
	limit := s.cfg.MaxTenantReplies(tenant)
	s.runMu.Lock()
	defer s.runMu.Unlock()
	if s.slots >= s.cfg.MaxReplies || s.byTenant[tenant] >= limit {
		return nil, &widget.Error{Code: widget.CodeTooManyReplies, RetryAfter: time.Second,
			Message: "too many answers in progress; wait for one to finish, then retry"}
	}
	s.slots++
	s.byTenant[tenant]++
	return func() {
		s.runMu.Lock()
		defer s.runMu.Unlock()
		s.slots--
		if s.byTenant[tenant]--; s.byTenant[tenant] <= 0 {
			delete(s.byTenant, tenant) // bounded by the tenants running now
		}
	}, nil
}

// withinBudget refuses a message of a tenant whose model budget for the
// day is spent. The count is read, not reserved: replies already running
// may take a tenant a little past its budget, never a new one.
func (s *Service) withinBudget(ctx context.Context, tenant string) error {
	limit := s.cfg.TokensPerDay(tenant)
	if limit <= 0 {
		return nil
	}
	now := s.cfg.Now()
	spent, err := s.cfg.Budget.Spent(ctx, tenant, now)
	if err != nil {
		return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "the model budget cannot be read; retry", Err: err}
	}
	if spent >= limit {
		return &widget.Error{Code: widget.CodeModelBudgetExhausted, RetryAfter: budget.UntilTomorrow(now),
			Message: "your organisation's assistant budget for today is spent; it renews at midnight UTC"}
	}
	return nil
}

// admit asks the tenant's storage quota for n bytes of c's session log,
// before the message is accepted.
func (s *Service) admit(ctx context.Context, c *token.Claims, now, expires time.Time, n int64) error {
	err := s.cfg.Quota.Admit(ctx, c.Tenant, c.SessionID, now, expires, n, s.cfg.QuotaLimits(c.Tenant))
	switch {
	case errors.Is(err, quota.ErrSessions):
		return &widget.Error{Code: widget.CodeStorageQuota, RetryAfter: time.Minute, Err: err,
			Message: "your organisation holds as many conversations as it may; older ones free their place as their sessions end"}
	case errors.Is(err, quota.ErrBytes):
		return &widget.Error{Code: widget.CodeStorageQuota, RetryAfter: time.Minute, Err: err,
			Message: "your organisation's conversations hold as much as they may; older ones free their place as their sessions end"}
	case err != nil:
		return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "the storage quota cannot be read; retry", Err: err}
	}
	return nil
}

// spend counts a reply's tokens to tenant's budget of the day.
func (s *Service) spend(log *zap.Logger, tenant string, prompt, completion int) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Budget.Spend(ctx, tenant, s.cfg.Now(), int64(prompt)+int64(completion)); err != nil {
		log.Error("a reply's tokens could not be counted to its tenant's budget", zap.Error(err))
	}
}

// revoked cancels the replies this replica runs for sessions e revokes:
// the push that ends their streams ends their answers too, and the model
// stops spending on them.
func (s *Service) revoked(e revoke.Entry) {
	var ends []context.CancelCauseFunc
	s.runMu.Lock()
	for _, r := range s.running {
		if e.Matches(r.claims) {
			ends = append(ends, r.cancel)
		}
	}
	s.runMu.Unlock()
	for _, end := range ends {
		end(errRevoked)
	}
}

// errRevoked is the cause of a reply cancelled because its session was
// revoked: nothing more is written for a session nobody may read.
var errRevoked = errors.New("chat: the session was revoked")

// Close ends the replies in flight (each writes a final error event if it
// can) and waits for them.
func (s *Service) Close() {
	s.unsub()
	s.cancel()
	s.replies.Wait()
}

// MessageCreated is the data of a message.created event.
type MessageCreated struct {
	MessageID string    `json:"messageId"`
	Role      string    `json:"role"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"createdAt"`
}

// ResponseDelta is the data of a response.delta event.
type ResponseDelta struct {
	MessageID string `json:"messageId"` // the reply's id
	InReplyTo string `json:"inReplyTo"`
	Index     int    `json:"index"`
	Delta     string `json:"delta"`
}

// ResponseCompleted is the data of a response.completed event.
type ResponseCompleted struct {
	MessageID string `json:"messageId"`
	InReplyTo string `json:"inReplyTo"`
	Content   string `json:"content"`
}

// ErrorData is the data of an error event.
type ErrorData struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	InReplyTo string `json:"inReplyTo,omitempty"`
}

// ValidateContent checks a user's message.
func ValidateContent(content string) error {
	switch {
	case content == "":
		return widget.FieldError("content", "must not be empty")
	case len(content) > MaxMessageBytes:
		return widget.FieldError("content", "must be at most %d bytes, got %d", MaxMessageBytes, len(content))
	case !utf8.ValidString(content):
		return widget.FieldError("content", "must be valid UTF-8")
	}
	return nil
}

// Message is what the widget sends: the user's words, and the language
// they read (a BCP 47 tag; "" when the widget did not say), which the
// assistant answers in.
type Message struct {
	Content string
	Locale  string
}

// ValidateLocale checks a message's locale: empty, or a well-formed BCP 47
// tag of at most locale.MaxBytes.
func ValidateLocale(tag string) error {
	if tag == "" {
		return nil
	}
	if err := locale.Check(tag); err != nil {
		return widget.FieldError("locale", "%v", err)
	}
	return nil
}

// Send appends the user's message to the session's event log and starts
// the assistant's reply, which runs on after Send returns. It answers once
// the message is durable in the log.
func (s *Service) Send(ctx context.Context, c *token.Claims, m Message) (string, error) {
	content := m.Content
	if err := ValidateContent(content); err != nil {
		return "", err
	}
	if err := ValidateLocale(m.Locale); err != nil {
		return "", err
	}
	ok, retry, err := s.cfg.Limiter.Allow(ctx, c.SessionID)
	if err != nil {
		return "", &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "rate limiter unavailable", Err: err}
	}
	if !ok {
		return "", &widget.Error{Code: widget.CodeRateLimited, Message: "too many messages in this session; retry later", RetryAfter: retry}
	}
	if err := s.withinBudget(ctx, c.Tenant); err != nil {
		return "", err
	}
	// The slot is taken before the message is accepted: a message refused
	// for want of one is not in the log, unanswered.
	release, err := s.reserve(c.Tenant)
	if err != nil {
		return "", err
	}
	id := "msg_" + ksuid.New().String()
	expires := time.Unix(c.Expiry, 0)
	now := s.cfg.Now()
	data, err := json.Marshal(MessageCreated{MessageID: id, Role: "user", Content: content, CreatedAt: now.UTC()})
	if err != nil {
		release()
		return "", fmt.Errorf("chat: encode %s: %w", events.MessageCreated, err)
	}
	if err := s.admit(ctx, c, now, expires, int64(len(data))); err != nil {
		release()
		return "", err
	}
	if _, err := s.cfg.Log.Append(ctx, c.SessionID, events.MessageCreated, data, expires); err != nil {
		release()
		return "", &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "event log unavailable; the message was not accepted", Err: err}
	}
	claims := *c
	s.replies.Add(1)
	go func() {
		defer s.replies.Done()
		defer release()
		s.reply(&claims, id, m.Locale)
	}()
	return id, nil
}

// reply produces the assistant's answer to message inReplyTo. It runs
// detached from the request: the answer belongs to the session, not to the
// connection that asked.
func (s *Service) reply(c *token.Claims, inReplyTo, locale string) {
	tctx, cancelTimeout := context.WithTimeout(s.stop, s.cfg.ReplyTimeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	defer s.track(c, inReplyTo, cancel)()
	log := s.cfg.Logger.With(zap.String("session", c.SessionID), zap.String("message", inReplyTo))
	expires := time.Unix(c.Expiry, 0)
	var written int64 // the reply's bytes in the log, counted to the tenant's quota at the end
	defer func() {
		if written == 0 {
			return
		}
		qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer qcancel()
		if err := s.cfg.Quota.Add(qctx, c.Tenant, c.SessionID, s.cfg.Now(), expires, written); err != nil {
			log.Error("a reply's bytes could not be counted to its tenant's quota", zap.Error(err))
		}
	}()
	appendCounted := func(ctx context.Context, typ string, v any) error {
		ev, err := s.append(ctx, c.SessionID, typ, v, expires)
		written += int64(len(ev.Data))
		return err
	}
	fail := func(code, msg string, err error) {
		log.Warn("assistant reply failed", zap.String("code", code), zap.Error(err))
		// A fresh context: the reply's own may be what ended.
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		if err := appendCounted(wctx, events.Error, ErrorData{Code: code, Message: msg, InReplyTo: inReplyTo}); err != nil {
			log.Error("could not record the reply's failure", zap.Error(err))
		}
	}

	req, err := s.request(ctx, c)
	if err != nil {
		fail("assistant_unavailable", "the assistant could not read the conversation", err)
		return
	}
	req.Locale = locale
	req.Usage = func(prompt, completion int) { s.spend(log, c.Tenant, prompt, completion) }
	id := "msg_" + ksuid.New().String()
	var full []byte
	index := 0
	err = s.cfg.Assistant.Reply(ctx, req, func(delta string) error {
		full = append(full, delta...)
		err := appendCounted(ctx, events.ResponseDelta, ResponseDelta{MessageID: id, InReplyTo: inReplyTo, Index: index, Delta: delta})
		index++
		return err
	})
	if err != nil && errors.Is(context.Cause(ctx), errRevoked) {
		log.Info("reply cancelled: the session was revoked")
		return
	}
	if err != nil && errors.Is(context.Cause(ctx), errStopped) {
		// Stopped on request: record what was said, in a fresh context
		// (the reply's own is what ended).
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer wcancel()
		if err := appendCounted(wctx, events.ResponseCancelled, ResponseCancelled{MessageID: id, InReplyTo: inReplyTo, Content: string(full)}); err != nil {
			log.Error("could not record the stopped reply", zap.Error(err))
		}
		return
	}
	if err != nil {
		fail("assistant_failed", "the assistant could not finish its answer", err)
		return
	}
	if err := appendCounted(ctx, events.ResponseCompleted, ResponseCompleted{MessageID: id, InReplyTo: inReplyTo, Content: string(full)}); err != nil {
		fail("assistant_failed", "the assistant could not finish its answer", err)
	}
}

// request builds the assistant's request: the incident context and the
// conversation so far, read back from the session's event log, so a reply
// on any replica sees the same history.
func (s *Service) request(ctx context.Context, c *token.Claims) (assistant.Request, error) {
	var req assistant.Request
	if c.Incident != "" {
		inc, err := s.cfg.Incidents.Lookup(ctx, c.Tenant, c.Incident)
		if err == nil {
			req.Incident = &inc
		} else {
			s.cfg.Logger.Warn("incident context unavailable for a reply", zap.String("session", c.SessionID), zap.Error(err))
		}
	}
	err := s.each(ctx, c.SessionID, func(e events.Event) bool {
		switch e.Type {
		case events.MessageCreated:
			var m MessageCreated
			if json.Unmarshal(e.Data, &m) == nil {
				req.History = append(req.History, assistant.Message{Role: "user", Content: m.Content})
			}
		case events.ResponseCompleted, events.ResponseCancelled:
			// A stopped answer is part of the conversation as far as it
			// went: the user saw it.
			var m ResponseCompleted
			if json.Unmarshal(e.Data, &m) == nil {
				req.History = append(req.History, assistant.Message{Role: "assistant", Content: m.Content})
			}
		}
		return true
	})
	return req, err
}

// each calls fn with the events of session sid's log, oldest first, until
// fn returns false.
func (s *Service) each(ctx context.Context, sid string, fn func(events.Event) bool) error {
	const pageSize = 500
	after := ""
	for {
		page, err := s.cfg.Log.Range(ctx, sid, after, pageSize)
		if err != nil {
			return err
		}
		for _, e := range page {
			if !fn(e) {
				return nil
			}
		}
		if len(page) < pageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (s *Service) append(ctx context.Context, sid, typ string, v any, expires time.Time) (events.Event, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return events.Event{}, fmt.Errorf("chat: encode %s: %w", typ, err)
	}
	return s.cfg.Log.Append(ctx, sid, typ, data, expires)
}
