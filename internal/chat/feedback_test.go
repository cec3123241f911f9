package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// TestSendLocale: the widget's locale reaches the assistant's request; a
// tag that is not BCP 47, or too long, is refused before the message is
// counted or logged.
func TestSendLocale(t *testing.T) {
	requests := make(chan assistant.Request, 1)
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(_ context.Context, req assistant.Request, emit func(string) error) error {
			requests <- req
			return emitAll(emit, "مرحبا")
		}
	})
	c := claims(t, "")
	if _, err := s.Send(context.Background(), c, chat.Message{Content: "لماذا؟", Locale: "ar"}); err != nil {
		t.Fatal(err)
	}
	if req := <-requests; req.Locale != "ar" {
		t.Errorf("the assistant was asked in locale %q, want ar", req.Locale)
	}
	untilReplied(t, p.log, c.SessionID)
	before, calls := len(all(t, p.log, c.SessionID)), p.limiter.calls.Load()
	for _, bad := range []string{"arabic!", "en_US", "x", strings.Repeat("a-", 18) + "b", "de-"} {
		_, err := s.Send(context.Background(), c, chat.Message{Content: "hi", Locale: bad})
		if we := wantCode(t, err, widget.CodeValidation); we.Field != "locale" {
			t.Errorf("locale %q: field %q, want locale", bad, we.Field)
		}
	}
	if p.limiter.calls.Load() != calls || len(all(t, p.log, c.SessionID)) != before {
		t.Error("a message with an invalid locale counted against the limit or reached the log")
	}
}

// answered sends a question and returns the id of its finished answer.
func answered(t *testing.T, s *chat.Service, p *parts, c *token.Claims) string {
	t.Helper()
	if _, err := s.Send(context.Background(), c, chat.Message{Content: "why?"}); err != nil {
		t.Fatal(err)
	}
	evs := untilReplied(t, p.log, c.SessionID)
	return decode[chat.ResponseCompleted](t, evs[len(evs)-1]).MessageID
}

// TestRate: a finished answer's rating goes into the session's log as
// feedback.created, a later one after it; anything else is refused before
// the log is touched.
func TestRate(t *testing.T) {
	s, p := newService(t, nil)
	c := claims(t, "")
	id := answered(t, s, p, c)
	f, err := s.Rate(context.Background(), c, id, chat.RatingDown, "It named the wrong service.")
	if err != nil {
		t.Fatal(err)
	}
	if f.MessageID != id || f.Rating != "down" || f.Reason != "It named the wrong service." || f.CreatedAt.IsZero() {
		t.Errorf("Rate = %+v", f)
	}
	if _, err := s.Rate(context.Background(), c, id, chat.RatingUp, ""); err != nil {
		t.Fatal(err)
	}
	evs := all(t, p.log, c.SessionID)
	var got []chat.Feedback
	for _, e := range evs {
		if e.Type == events.FeedbackCreated {
			got = append(got, decode[chat.Feedback](t, e))
		}
	}
	if len(got) != 2 || got[0].Rating != "down" || got[1].Rating != "up" || got[1].Reason != "" || got[1].MessageID != id {
		t.Fatalf("feedback events %+v, want down then up for %s", got, id)
	}
	var raw map[string]any
	if err := json.Unmarshal(evs[len(evs)-1].Data, &raw); err != nil || raw["reason"] != nil {
		t.Errorf("a rating without a reason carries %v (%v); want no reason member", raw, err)
	}

	other := claims(t, "")
	otherAnswer := answered(t, s, p, other)
	before := len(all(t, p.log, c.SessionID))
	for _, tc := range []struct {
		name, id, rating, reason, code, field string
	}{
		{"a question's id", idOf(t, evs, events.MessageCreated), "up", "", widget.CodeNotFound, ""},
		{"another session's answer", otherAnswer, "up", "", widget.CodeNotFound, ""},
		{"not a message id", "msg_nope", "up", "", widget.CodeValidation, "messageId"},
		{"no rating", id, "", "", widget.CodeValidation, "rating"},
		{"a rating of 5", id, "5", "", widget.CodeValidation, "rating"},
		{"a reason over 500 bytes", id, "down", strings.Repeat("é", 251), widget.CodeValidation, "reason"},
		{"a reason not UTF-8", id, "down", "bad\xff", widget.CodeValidation, "reason"},
	} {
		_, err := s.Rate(context.Background(), c, tc.id, tc.rating, tc.reason)
		if we := wantCode(t, err, tc.code); we.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.name, we.Field, tc.field)
		}
	}
	if n := len(all(t, p.log, c.SessionID)); n != before {
		t.Errorf("refused ratings wrote %d events", n-before)
	}
	if _, err := s.Rate(context.Background(), c, id, "down", strings.Repeat("é", 250)); err != nil {
		t.Errorf("a reason of exactly 500 bytes: %v", err)
	}
}

// TestRateStopped: a stopped answer is finished too, and can be rated.
func TestRateStopped(t *testing.T) {
	started := make(chan struct{})
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(ctx context.Context, _ assistant.Request, emit func(string) error) error {
			if err := emit("partial "); err != nil {
				return err
			}
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}
	})
	c := claims(t, "")
	q, err := s.Send(context.Background(), c, chat.Message{Content: "why?"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := s.Stop(context.Background(), c, q); err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	waitForType(t, p, c.SessionID, events.ResponseCancelled, &evs)
	if _, err := s.Rate(context.Background(), c, idOf(t, evs, events.ResponseCancelled), "down", "stopped: too slow"); err != nil {
		t.Errorf("rating a stopped answer: %v", err)
	}
}

// TestRateQuotaAndLog: a rating counts to the tenant's storage quota, and
// is refused (nothing written) past it or when the log is down.
func TestRateQuotaAndLog(t *testing.T) {
	q := quota.NewMemory()
	s, p := newService(t, func(p *parts) {
		p.quota, p.quotaLimits = q, quota.Limits{Bytes: 4096}
	})
	c := claims(t, "")
	id := answered(t, s, p, c)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = s.Rate(context.Background(), c, id, "down", strings.Repeat("x", 400))
	}
	wantCode(t, err, widget.CodeStorageQuota)

	down := errors.New("test: log down")
	p.log.rng = func(context.Context, string, string, int) ([]events.Event, error) { return nil, down }
	_, err = s.Rate(context.Background(), c, id, "up", "")
	wantCode(t, err, widget.CodeDependencyUnavailable)
	if !errors.Is(err, down) {
		t.Errorf("error %v does not wrap the log's", err)
	}
}

func idOf(t *testing.T, evs []events.Event, typ string) string {
	t.Helper()
	for _, e := range evs {
		if e.Type == typ {
			var m struct {
				MessageID string `json:"messageId"`
			}
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			return m.MessageID
		}
	}
	t.Fatalf("no %s event in %+v", typ, evs)
	return ""
}

func waitForType(t *testing.T, p *parts, sid, typ string, evs *[]events.Event) {
	t.Helper()
	wait.For(t, "a "+typ+" event", func() bool {
		*evs = all(t, p.log, sid)
		return slices.ContainsFunc(*evs, func(e events.Event) bool { return e.Type == typ })
	}, func() string { return fmt.Sprintf("log %+v", *evs) })
}
