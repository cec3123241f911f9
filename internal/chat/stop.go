package chat

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/segmentio/ksuid"

	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Stops carries a request to stop a reply to the replica that runs it:
// replies run where their message was accepted, and a stop may arrive
// anywhere. LocalStops serves one process; the Redis adapter publishes to
// every replica.
type Stops interface {
	// RequestStop asks whichever replica runs the reply to message
	// inReplyTo of session sid to stop it. An error means the request may
	// not have been carried.
	RequestStop(ctx context.Context, sid, inReplyTo string) error
	// Listen sets the function told of every stop request, this replica's
	// own included. It is called once, before any RequestStop.
	Listen(fn func(sid, inReplyTo string))
}

// LocalStops is the Stops of one process: a request reaches its listener
// at once.
type LocalStops struct {
	mu sync.RWMutex
	fn func(sid, inReplyTo string)
}

// RequestStop tells the listener.
func (l *LocalStops) RequestStop(_ context.Context, sid, inReplyTo string) error {
	l.mu.RLock()
	fn := l.fn
	l.mu.RUnlock()
	if fn != nil {
		fn(sid, inReplyTo)
	}
	return nil
}

// Listen sets the listener.
func (l *LocalStops) Listen(fn func(sid, inReplyTo string)) {
	l.mu.Lock()
	l.fn = fn
	l.mu.Unlock()
}

// errStopped is the cause of a reply's context when it was asked to stop.
var errStopped = errors.New("chat: reply stopped on request")

// ResponseCancelled is the data of a response.cancelled event: the reply
// was stopped on request; Content is what had been said.
type ResponseCancelled struct {
	MessageID string `json:"messageId"`
	InReplyTo string `json:"inReplyTo"`
	Content   string `json:"content"`
}

// Stop asks for the reply to the user's message messageID of c's session to
// stop, wherever it runs. The reply, if still running, ends with a
// response.cancelled event carrying what it had said; a reply that has
// ended, or a message the session never sent, is left as it is. The
// answer does not tell which.
func (s *Service) Stop(ctx context.Context, c *token.Claims, messageID string) error {
	if !validMessageID(messageID) {
		return widget.FieldError("messageId", "must be a message id (msg_ followed by 27 base62 characters)")
	}
	if err := s.cfg.Stops.RequestStop(ctx, c.SessionID, messageID); err != nil {
		return &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "the stop request could not be carried; retry", Err: err}
	}
	return nil
}

// stopLocal stops the reply to inReplyTo of sid if this replica runs it.
func (s *Service) stopLocal(sid, inReplyTo string) {
	s.runMu.Lock()
	r, ok := s.running[runKey(sid, inReplyTo)]
	s.runMu.Unlock()
	if ok {
		r.cancel(errStopped)
	}
}

// track registers a running reply to c's session; the returned function
// unregisters it.
func (s *Service) track(c *token.Claims, inReplyTo string, cancel context.CancelCauseFunc) (untrack func()) {
	k := runKey(c.SessionID, inReplyTo)
	s.runMu.Lock()
	s.running[k] = runningReply{claims: c, cancel: cancel}
	s.runMu.Unlock()
	return func() {
		s.runMu.Lock()
		delete(s.running, k)
		s.runMu.Unlock()
	}
}

func runKey(sid, inReplyTo string) string { return sid + "/" + inReplyTo }

// validMessageID reports whether id has the form of a message id.
func validMessageID(id string) bool {
	rest, ok := strings.CutPrefix(id, "msg_")
	if !ok {
		return false
	}
	_, err := ksuid.Parse(rest)
	return err == nil
}
