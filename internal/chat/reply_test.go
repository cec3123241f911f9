package chat_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

func TestReplyIsAppendedInOrder(t *testing.T) {
	deltas := []string{"The ", "checkout ", "API ", "is ", "down."}
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(_ context.Context, _ assistant.Request, emit func(string) error) error {
			return emitAll(emit, deltas...)
		}
	})
	c := claims(t, "")
	id, err := s.Send(context.Background(), c, chat.Message{Content: "What happened?"})
	if err != nil {
		t.Fatal(err)
	}
	evs := untilReplied(t, p.log, c.SessionID)
	if len(evs) != len(deltas)+2 {
		t.Fatalf("%d events, want the message, %d deltas and the completion: %+v", len(evs), len(deltas), evs)
	}
	if m := decode[chat.MessageCreated](t, evs[0]); evs[0].Type != events.MessageCreated || m.MessageID != id || m.Role != "user" || m.Content != "What happened?" || m.CreatedAt.IsZero() {
		t.Errorf("first event %s %s, want message.created of %s", evs[0].Type, evs[0].Data, id)
	}
	var replyID string
	for i, e := range evs[1 : len(evs)-1] {
		d := decode[chat.ResponseDelta](t, e)
		if i == 0 {
			replyID = d.MessageID
		}
		if e.Type != events.ResponseDelta || d.Index != i || d.Delta != deltas[i] || d.InReplyTo != id || d.MessageID != replyID {
			t.Errorf("event %d: %s %s, want delta %d %q in reply to %s", i+1, e.Type, e.Data, i, deltas[i], id)
		}
	}
	if replyID == id || replyID == "" {
		t.Errorf("reply id %q: want an id of its own", replyID)
	}
	last := evs[len(evs)-1]
	if d := decode[chat.ResponseCompleted](t, last); last.Type != events.ResponseCompleted || d.MessageID != replyID || d.InReplyTo != id || d.Content != "The checkout API is down." {
		t.Errorf("last event %s %s, want the completion of %s", last.Type, last.Data, replyID)
	}
}

func TestReplyRequest(t *testing.T) {
	lookupFailed := errors.New("test: incident source down")
	for _, tt := range []struct {
		name     string
		incident string
		lookup   func(ctx context.Context, tenant, id string) (incident.Incident, error)
		want     *incident.Incident
	}{
		{"with an incident", "inc_1", nil, &incident.Incident{ID: "inc_1", Tenant: "demo", Title: "Checkout down", Severity: "high", Status: "investigating"}},
		{"without an incident", "", func(context.Context, string, string) (incident.Incident, error) {
			return incident.Incident{ID: "inc_other", Tenant: "demo"}, nil // must not be asked
		}, nil},
		{"incident context unavailable", "inc_1", func(context.Context, string, string) (incident.Incident, error) {
			return incident.Incident{}, fmt.Errorf("%w: %w", incident.ErrUnavailable, lookupFailed)
		}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			requests := make(chan assistant.Request, 4)
			turn := 0
			s, p := newService(t, func(p *parts) {
				p.incidents.lookup = tt.lookup
				p.assistant.reply = func(_ context.Context, req assistant.Request, emit func(string) error) error {
					requests <- req
					turn++
					return emitAll(emit, "answer ", fmt.Sprint(turn))
				}
			})
			c := claims(t, tt.incident)
			var got assistant.Request
			for _, q := range []string{"first question", "second question"} {
				if _, err := s.Send(context.Background(), c, chat.Message{Content: q}); err != nil {
					t.Fatal(err)
				}
				untilReplied(t, p.log, c.SessionID)
				got = <-requests
			}
			if !reflect.DeepEqual(got.Incident, tt.want) {
				t.Errorf("incident = %+v, want %+v", got.Incident, tt.want)
			}
			want := []assistant.Message{
				{Role: "user", Content: "first question"}, {Role: "assistant", Content: "answer 1"}, {Role: "user", Content: "second question"},
			}
			if !reflect.DeepEqual(got.History, want) {
				t.Errorf("history = %+v, want %+v", got.History, want)
			}
		})
	}
}

func TestReplyFailureIsAnErrorEvent(t *testing.T) {
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(_ context.Context, _ assistant.Request, emit func(string) error) error {
			if err := emit("Partial "); err != nil {
				return err
			}
			return errors.New("test: model overloaded")
		}
	})
	c := claims(t, "")
	id, err := s.Send(context.Background(), c, chat.Message{Content: "What happened?"})
	if err != nil {
		t.Fatal(err)
	}
	evs := untilReplied(t, p.log, c.SessionID)
	last := evs[len(evs)-1]
	if d := decode[chat.ErrorData](t, last); last.Type != events.Error || d.InReplyTo != id || d.Code == "" || d.Message == "" {
		t.Errorf("last event %s %s, want an error in reply to %s", last.Type, last.Data, id)
	}
	for _, e := range evs {
		if e.Type == events.ResponseCompleted {
			t.Errorf("a failed reply completed: %s", e.Data)
		}
	}
}

func TestCloseCancelsAReplyInFlight(t *testing.T) {
	started, ended := make(chan struct{}), make(chan error, 1)
	release := make(chan struct{}) // only for a failed test: the cleanup's Close then returns
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(ctx context.Context, _ assistant.Request, emit func(string) error) error {
			if err := emit("Thinking "); err != nil {
				return err
			}
			close(started)
			select { // a model that never answers
			case <-ctx.Done():
			case <-release:
			}
			ended <- ctx.Err()
			return errors.New("test: released")
		}
	})
	t.Cleanup(func() { close(release) }) // runs before newService's Close
	c := claims(t, "")
	id, err := s.Send(context.Background(), c, chat.Message{Content: "What happened?"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the reply did not start")
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a reply was in flight")
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the assistant's context ended with %v, want context.Canceled", err)
	}
	// Close waited for the reply, which recorded why it ended.
	evs := all(t, p.log, c.SessionID)
	last := evs[len(evs)-1]
	if d := decode[chat.ErrorData](t, last); last.Type != events.Error || d.InReplyTo != id {
		t.Errorf("last event %s %s, want an error in reply to %s", last.Type, last.Data, id)
	}
}

// TestStopEndsAReplyInFlight: a stop request for a running reply cancels
// the assistant's context, and the reply ends with response.cancelled
// carrying what it had said; the next question's history holds that part.
// A stop for a reply that has ended, or a malformed id, changes nothing.
func TestStopEndsAReplyInFlight(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	var history []assistant.Message
	s, p := newService(t, func(p *parts) {
		p.assistant.reply = func(ctx context.Context, req assistant.Request, emit func(string) error) error {
			history = req.History
			if len(req.History) > 1 {
				return emitAll(emit, "ok")
			}
			if err := emit("Thinking "); err != nil {
				return err
			}
			once.Do(func() { close(started) })
			<-ctx.Done() // a model that answers slowly
			return ctx.Err()
		}
	})
	c := claims(t, "")
	id, err := s.Send(context.Background(), c, chat.Message{Content: "What happened?"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := s.Stop(context.Background(), c, id); err != nil {
		t.Fatal(err)
	}
	var last events.Event
	wait.Poll(wait.Limit, func() bool {
		evs := all(t, p.log, c.SessionID)
		last = evs[len(evs)-1]
		return last.Type == events.ResponseCancelled
	})
	d := decode[chat.ResponseCancelled](t, last)
	if last.Type != events.ResponseCancelled || d.InReplyTo != id || d.Content != "Thinking " {
		t.Fatalf("last event %s %s, want response.cancelled in reply to %s with the partial answer", last.Type, last.Data, id)
	}
	if err := s.Stop(context.Background(), c, id); err != nil { // ended already: nothing to stop
		t.Errorf("a second stop: %v", err)
	}
	if err := s.Stop(context.Background(), c, "msg_nope"); widget.ErrorCode(err) != widget.CodeValidation {
		t.Errorf("a malformed message id: %v, want a validation error", err)
	}
	next, err := s.Send(context.Background(), c, chat.Message{Content: "And then?"})
	if err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the assistant asked the next question", func() bool { return p.assistant.calls.Load() >= 2 })
	waitDone(t, p.log, c.SessionID, next)
	if len(history) != 3 || history[1].Role != assistant.RoleAssistant || history[1].Content != "Thinking " {
		t.Errorf("the next question's history %+v, want the stopped answer as far as it went", history)
	}
}

// waitDone waits until the reply to msg has completed.
func waitDone(t *testing.T, log events.Log, sid, msg string) {
	t.Helper()
	wait.For(t, "a completed reply to "+msg, func() bool {
		for _, e := range all(t, log, sid) {
			if e.Type == events.ResponseCompleted && strings.Contains(string(e.Data), msg) {
				return true
			}
		}
		return false
	})
}
