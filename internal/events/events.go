// Package events is the per-session event log behind the widget's stream:
// every event a session's SSE stream shows (the user's message, the
// assistant's deltas, the end of an answer, an error) is appended to the
// session's log, and every open stream of the session, on any replica,
// follows the log.
//
// # The log is the source of truth
//
// Event ids are Redis Stream ids, "<ms>-<seq>", totally ordered within a
// session. A stream resumes with Range(after the Last-Event-ID it was
// given), so a reconnecting browser gets exactly what it missed, on
// whichever replica it lands. Notifications (Notify) are only hints that it
// is worth reading again: a lost one delays an event, it never loses it,
// because a reader (internal/stream's follower) always reads from the last id it
// delivered, and a re-established subscription wakes every reader.
//
// # Bounds
//
// A session's log is capped (MaxLen events, the oldest trimmed first) and
// expires with the session. A client that resumes from an id whose
// successors are no longer held (past the cap, or once the log expired, or
// Redis lost its data) is told so: its stream starts with a StreamReset
// event, then the whole log as held. Loss is never silent.
//
// Memory is the embedded default's log; the Redis adapter (pkg/redis) serves
// many replicas. Both pass eventstest.Run.
package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Types of event the widget's stream carries.
const (
	// MessageCreated is a message added to the conversation (the user's).
	MessageCreated = "message.created"
	// ResponseDelta is a piece of the assistant's answer.
	ResponseDelta = "response.delta"
	// ResponseCompleted ends the assistant's answer.
	ResponseCompleted = "response.completed"
	// ResponseCancelled ends an answer stopped on request, with what it
	// had said.
	ResponseCancelled = "response.cancelled"
	// FeedbackCreated is the user's rating of a finished answer (a later
	// one of the same answer replaces it).
	FeedbackCreated = "feedback.created"
	// Error tells the widget something went wrong (and, as the last event
	// of a stream, why it ends).
	Error = "error"
	// StreamReset starts a resumed stream that cannot continue where the
	// client left it: events after its Last-Event-ID are no longer held
	// (trimmed by the cap, expired, or lost). The events that follow are
	// the whole log as held; the widget shows the conversation afresh. It
	// has no id, and its data is {"oldestId": the oldest id held, or ""}.
	StreamReset = "stream.reset"
)

// DefaultMaxLen is how many events a session's log keeps when the log's
// configuration names no cap.
const DefaultMaxLen = 1000

// MaxTypeLen bounds an event type's length.
const MaxTypeLen = 64

// Event is one event of a session's log.
type Event struct {
	// ID is the event's id, "<ms>-<seq>" (see ID): the SSE id, and the
	// Last-Event-ID a stream resumes after.
	ID string
	// Type is the SSE event name: MessageCreated, ResponseDelta, ...
	Type string
	// Data is the event's payload, compact JSON on one line (Append
	// compacts it), ready to be an SSE data field. It is shared between
	// readers: never modify it.
	Data json.RawMessage
}

// Log is a per-session event log. Implementations are safe for concurrent
// use.
type Log interface {
	// Append adds an event to session sid's log and returns it with its id,
	// once the log has recorded it (for Redis: acknowledged). The log keeps
	// at most its cap of events, trimming the oldest, and expires whole at
	// expires (the session's exp; each Append sets it). data must be valid
	// JSON. An error means the event may not be recorded.
	Append(ctx context.Context, sid, typ string, data json.RawMessage, expires time.Time) (Event, error)
	// Range returns at most limit events of sid's log with ids strictly
	// after afterID ("" = from the start), oldest first; none when there are
	// none, or the log expired. It returns only events the log holds as
	// acknowledged (for Redis with replicas: confirmed by them), never one
	// a failover could take back after a stream delivered it.
	Range(ctx context.Context, sid, afterID string, limit int) ([]Event, error)
	// Gap reports whether resuming sid's log after afterID would skip
	// events it no longer holds: afterID is not held, and is not the last
	// id the cap trimmed (after which nothing is missing), or the log is
	// gone (expired, lost). oldest is the oldest id held ("" when none).
	// An afterID of "" never has a gap.
	Gap(ctx context.Context, sid, afterID string) (gap bool, oldest string, err error)
	// Notify registers wake, called when sid may have new events, until
	// cancel is called (cancel may be called more than once). wake must
	// return at once: it is called from the goroutine that appended (in
	// memory) or that relays Redis's notifications. Calls coalesce and may
	// be spurious or lost (a dropped connection; the re-established
	// subscription then wakes everyone): it is a hint to call Range, never
	// a substitute for it.
	Notify(sid string, wake func()) (cancel func())
}

// Sentinel errors of event logs, for errors.Is.
var (
	// ErrInvalidSession is wrapped by the error for a session id that is
	// not "wsess_" + a KSUID (it would name a Redis key). The error is a
	// *widget.Error with the validation code.
	ErrInvalidSession = errors.New("events: invalid session id")
	// ErrInvalidID is wrapped by the error for an event id that is not
	// "<digits>-<digits>" (a Last-Event-ID is the client's to send). The
	// error is a *widget.Error with the validation code.
	ErrInvalidID = errors.New("events: invalid event id")
	// ErrInvalidEvent is wrapped by the error Append returns for a
	// malformed type or data, or a zero expiry: a bug of the caller.
	ErrInvalidEvent = errors.New("events: invalid event")
	// ErrExpired is wrapped by the error Append returns when expires has
	// passed: the session is over, its log takes nothing more.
	ErrExpired = errors.New("events: session expired")
	// ErrUnavailable is wrapped by the error a log returns when its backend
	// did not answer: the event may not be recorded (Append), or the read
	// may be retried (Range; Follow does).
	ErrUnavailable = errors.New("events: log unavailable")
)

// CheckAppend checks the arguments of an Append as every Log must, now
// being the log's clock, and returns data compacted onto one line. It is
// for implementations of Log.
func CheckAppend(sid, typ string, data json.RawMessage, expires, now time.Time) (json.RawMessage, error) {
	if err := CheckSession(sid); err != nil {
		return nil, err
	}
	if !validType(typ) {
		return nil, fmt.Errorf("%w: type must be 1 to %d characters of a-z, 0-9, '.', '_', '-', starting with a letter", ErrInvalidEvent, MaxTypeLen)
	}
	if expires.IsZero() {
		return nil, fmt.Errorf("%w: no expiry (a log must expire with its session)", ErrInvalidEvent)
	}
	if !expires.After(now) {
		return nil, fmt.Errorf("%w: at %v", ErrExpired, expires.UTC())
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil { // also rejects nil and empty
		return nil, fmt.Errorf("%w: data is not JSON: %w", ErrInvalidEvent, err)
	}
	return buf.Bytes(), nil
}

// CheckRange checks the arguments of a Range as every Log must, and returns
// afterID parsed ("" is the zero ID, before every event). It is for
// implementations of Log.
func CheckRange(sid, afterID string, limit int) (ID, error) {
	if err := CheckSession(sid); err != nil {
		return ID{}, err
	}
	if limit <= 0 {
		return ID{}, fmt.Errorf("events: limit %d must be positive", limit)
	}
	if afterID == "" {
		return ID{}, nil
	}
	return ParseID(afterID)
}

// CheckSession returns nil when sid is a session id, and an error wrapping
// ErrInvalidSession otherwise.
func CheckSession(sid string) error {
	if !sessionid.Valid(sid) {
		return &widget.Error{Code: widget.CodeValidation, Field: "sessionId", Message: "sessionId: not a session id", Err: ErrInvalidSession}
	}
	return nil
}

// validType reports whether typ is a usable SSE event name: no newline or
// colon can break the stream's framing.
func validType(typ string) bool {
	if typ == "" || len(typ) > MaxTypeLen || typ[0] < 'a' || typ[0] > 'z' {
		return false
	}
	for i := 0; i < len(typ); i++ {
		c := typ[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
