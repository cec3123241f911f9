package chat_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// holding is an assistant whose replies run until released (or their
// context ends), counting those that run.
func holding(p *parts) (release func()) {
	gate := make(chan struct{})
	p.assistant.reply = func(ctx context.Context, _ assistant.Request, emit func(string) error) error {
		if err := emit("Thinking"); err != nil {
			return err
		}
		select {
		case <-gate:
			return emit("… done.")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return func() { close(gate) }
}

func of(t *testing.T, tenant string) *token.Claims {
	c := claims(t, "")
	c.Tenant = tenant
	return c
}

// TestRepliesInFlightBounded: a tenant's sessions hold at most its share
// of the replica's replies, the replica at most its total; past either a
// message is refused with too_many_replies before it is accepted (not in
// the log), and the slot comes back when a reply ends.
func TestRepliesInFlightBounded(t *testing.T) {
	var release func()
	s, p := newService(t, func(p *parts) {
		release = holding(p)
		p.maxReplies, p.maxTenantReplies = 3, 2
	})
	ctx := context.Background()
	a1, a2, a3 := of(t, "acme"), of(t, "acme"), of(t, "acme")
	for _, c := range []*token.Claims{a1, a2} {
		if _, err := s.Send(ctx, c, chat.Message{Content: "why?"}); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(c *token.Claims, why string) {
		t.Helper()
		_, err := s.Send(ctx, c, chat.Message{Content: "why?"})
		var we *widget.Error
		if !errors.As(err, &we) || we.Code != widget.CodeTooManyReplies || we.RetryAfter <= 0 {
			t.Fatalf("%s: Send = %v, want too_many_replies with a Retry-After", why, err)
		}
		if evs := all(t, p.log, c.SessionID); len(evs) != 0 {
			t.Fatalf("%s: the refused message is in the log: %+v", why, evs)
		}
	}
	refused(a3, "acme's third reply")
	g1 := of(t, "globex")
	if _, err := s.Send(ctx, g1, chat.Message{Content: "why?"}); err != nil {
		t.Fatalf("another tenant, under the replica's total: %v", err)
	}
	refused(of(t, "initech"), "a fourth reply on the replica")

	release()
	for _, c := range []*token.Claims{a1, a2, g1} {
		untilReplied(t, p.log, c.SessionID)
	}
	wait.For(t, "the slots given back", func() bool {
		_, err := s.Send(ctx, a3, chat.Message{Content: "why, now?"})
		return err == nil
	})
}

// TestRevocationCancelsReplies: a revocation pushed to the replica (the
// push that ends the session's streams) cancels the replies it covers,
// and only those: the model stops spending on a session nobody may read,
// and nothing more is written for it.
func TestRevocationCancelsReplies(t *testing.T) {
	var release func()
	s, p := newService(t, func(p *parts) {
		release = holding(p)
		p.maxTenantReplies = 2 // a slot frees only when a reply ends
	})
	ctx := context.Background()
	revoked, other := of(t, "acme"), of(t, "acme")
	for _, c := range []*token.Claims{revoked, other} {
		if _, err := s.Send(ctx, c, chat.Message{Content: "why?"}); err != nil {
			t.Fatal(err)
		}
	}
	wait.For(t, "both replies running", func() bool { return p.assistant.calls.Load() == 2 })
	e, err := revoke.SessionEntry("acme", revoked.SessionID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.revs.Revoke(ctx, e); err != nil {
		t.Fatal(err)
	}
	// The revoked session's log stops where it was: the message and the
	// first delta, no completion, no error event.
	wait.For(t, "the revoked session's reply gone", func() bool {
		_, err := s.Send(ctx, of(t, "acme"), chat.Message{Content: "a slot is free?"})
		return err == nil
	})
	release()
	untilReplied(t, p.log, other.SessionID)
	for _, ev := range all(t, p.log, revoked.SessionID) {
		if ev.Type != events.MessageCreated && ev.Type != events.ResponseDelta {
			t.Errorf("after the revocation the session got %s %s", ev.Type, ev.Data)
		}
	}
}

// TestModelBudget: the tokens the assistant reports are counted to the
// session's tenant for the UTC day; once a tenant's count reaches its
// budget, its next message is refused before it is accepted, until the
// day ends, and other tenants are not.
func TestModelBudget(t *testing.T) {
	start := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	var clock atomic.Int64 // the test's clock; replies read it on their own goroutines
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	spent := budget.NewMemory()
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(_ context.Context, req assistant.Request, emit func(string) error) error {
			req.Usage(30, 12)
			return emit("Roll back.")
		}
		p.budget, p.tokensPerDay, p.now = spent, 50, now
	})
	ctx := context.Background()
	acme := of(t, "acme")
	if _, err := s.Send(ctx, acme, chat.Message{Content: "why?"}); err != nil {
		t.Fatal(err)
	}
	untilReplied(t, p.log, acme.SessionID)
	if n, _ := spent.Spent(ctx, "acme", now()); n != 42 {
		t.Fatalf("acme spent %d, want 42 (30 + 12)", n)
	}
	if _, err := s.Send(ctx, acme, chat.Message{Content: "and?"}); err != nil {
		t.Fatalf("42 of 50 spent: %v", err) // under the budget: a reply may take it past
	}
	untilReplied(t, p.log, acme.SessionID)
	other := of(t, "acme")
	_, err := s.Send(ctx, other, chat.Message{Content: "and now?"})
	var we *widget.Error
	if !errors.As(err, &we) || we.Code != widget.CodeModelBudgetExhausted || we.RetryAfter != 2*time.Hour {
		t.Fatalf("84 of 50 spent: Send = %v, want model_budget_exhausted with Retry-After 2h", err)
	}
	if evs := all(t, p.log, other.SessionID); len(evs) != 0 {
		t.Fatalf("the refused message is in the log: %+v", evs)
	}
	globex := of(t, "globex")
	if _, err := s.Send(ctx, globex, chat.Message{Content: "why?"}); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	untilReplied(t, p.log, globex.SessionID)
	clock.Store(start.Add(2 * time.Hour).UnixNano()) // the next UTC day
	if _, err := s.Send(ctx, other, chat.Message{Content: "a new day?"}); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}
