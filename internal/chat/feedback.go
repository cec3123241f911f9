package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Ratings of an answer.
const (
	RatingUp   = "up"
	RatingDown = "down"
)

// MaxReasonBytes bounds the optional reason given with a rating.
const MaxReasonBytes = 500

// Feedback is the data of a feedback.created event, and the answer to the
// request that made it: the user's rating of one finished answer. A later
// rating of the same answer replaces it (the widget shows the last).
type Feedback struct {
	MessageID string    `json:"messageId"` // the answer rated
	Rating    string    `json:"rating"`    // RatingUp or RatingDown
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// ValidateFeedback checks a rating and its reason.
func ValidateFeedback(rating, reason string) error {
	switch {
	case rating != RatingUp && rating != RatingDown:
		return widget.FieldError("rating", "must be \"up\" or \"down\"")
	case len(reason) > MaxReasonBytes:
		return widget.FieldError("reason", "must be at most %d bytes, got %d", MaxReasonBytes, len(reason))
	case !utf8.ValidString(reason):
		return widget.FieldError("reason", "must be valid UTF-8")
	}
	return nil
}

// Rate records the user's rating of the answer messageID of c's session in
// the session's event log, where every stream of the session, and a widget
// resumed later, sees it. Only a finished answer (completed, or stopped
// with what it had said) can be rated: any other id is not_found. The
// bytes count to the tenant's storage quota, as a message's do.
func (s *Service) Rate(ctx context.Context, c *token.Claims, messageID, rating, reason string) (Feedback, error) {
	if !validMessageID(messageID) {
		return Feedback{}, widget.FieldError("messageId", "must be a message id (msg_ followed by 27 base62 characters)")
	}
	if err := ValidateFeedback(rating, reason); err != nil {
		return Feedback{}, err
	}
	found, err := s.finished(ctx, c.SessionID, messageID)
	if err != nil {
		return Feedback{}, &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "event log unavailable; the feedback was not recorded", Err: err}
	}
	if !found {
		return Feedback{}, widget.Errorf(widget.CodeNotFound, "this session has no finished answer %s", messageID)
	}
	now := s.cfg.Now()
	f := Feedback{MessageID: messageID, Rating: rating, Reason: reason, CreatedAt: now.UTC()}
	data, err := json.Marshal(f)
	if err != nil {
		return Feedback{}, fmt.Errorf("chat: encode %s: %w", events.FeedbackCreated, err)
	}
	expires := time.Unix(c.Expiry, 0)
	if err := s.admit(ctx, c, now, expires, int64(len(data))); err != nil {
		return Feedback{}, err
	}
	if _, err := s.cfg.Log.Append(ctx, c.SessionID, events.FeedbackCreated, data, expires); err != nil {
		return Feedback{}, &widget.Error{Code: widget.CodeDependencyUnavailable, Message: "event log unavailable; the feedback was not recorded", Err: err}
	}
	return f, nil
}

// finished reports whether the session's log holds the end of answer id:
// response.completed or response.cancelled.
func (s *Service) finished(ctx context.Context, sid, id string) (bool, error) {
	found := false
	err := s.each(ctx, sid, func(e events.Event) bool {
		if e.Type == events.ResponseCompleted || e.Type == events.ResponseCancelled {
			var m struct {
				MessageID string `json:"messageId"`
			}
			found = json.Unmarshal(e.Data, &m) == nil && m.MessageID == id
		}
		return !found
	})
	return found, err
}
