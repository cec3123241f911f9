package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/events"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/sse"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// writeTimeout bounds one write to a stream: a client that stops reading
// is dropped instead of holding a goroutine and a buffer forever.
const writeTimeout = 10 * time.Second

// streamCounter caps the open streams of each key (a session, a client
// address) on this replica.
type streamCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (sc *streamCounter) acquire(sid string, max int) (release func(), ok bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.n == nil {
		sc.n = map[string]int{}
	}
	if sc.n[sid] >= max {
		return nil, false
	}
	sc.n[sid]++
	return func() {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.n[sid]--; sc.n[sid] <= 0 {
			delete(sc.n, sid)
		}
	}, true
}

// streamCaller authenticates a stream request: the session token in the
// Authorization header, or (for EventSource) a single-use ticket in the
// query. The ticket's claims were verified when it was issued; revocation
// and expiry are checked again here and all along the stream.
func (s *Server) streamCaller(c *gin.Context) (*token.Claims, error) {
	if c.GetHeader("Authorization") != "" {
		return s.sessionCaller(c)
	}
	t := c.Query("ticket")
	if t == "" {
		return nil, widget.Errorf(widget.CodeUnauthorized, "missing session token or stream ticket")
	}
	claims, err := s.deps.Edge.Tickets.Redeem(c, t)
	if err != nil {
		return nil, &widget.Error{Code: widget.CodeUnauthorized, Message: "invalid, used or expired stream ticket", Err: err}
	}
	if code, msg := s.ended(claims); code == widget.CodeRevocationUnknown {
		return nil, widget.Errorf(code, "%s", msg)
	} else if code != "" {
		return nil, widget.Errorf(widget.CodeUnauthorized, "%s", msg)
	}
	c.Set(ctxTenant, claims.Tenant)
	c.Set(ctxSession, claims.SessionID)
	return claims, nil
}

// Final error codes of a stream.
const (
	endRevoked = "session_revoked"
	endExpired = "session_expired"
)

// ended tells why a session may not go on streaming: expired, revoked, or
// revocation state unknown (fail closed). It returns "" while it may.
func (s *Server) ended(c *token.Claims) (code, msg string) {
	if time.Now().Unix() >= c.Expiry {
		return endExpired, "session expired"
	}
	revoked, err := s.deps.Edge.Revocations.IsRevoked(c)
	switch {
	case err != nil:
		return widget.CodeRevocationUnknown, "revocation state unknown; retry"
	case revoked:
		return endRevoked, "session revoked"
	}
	return "", ""
}

// stream handles GET /v1/widget/sessions/{sessionId}/stream: Server-Sent
// Events of the session's event log, from after Last-Event-ID, then live.
func (s *Server) stream(c *gin.Context) error {
	claims, err := s.streamCaller(c)
	if err != nil {
		return err
	}
	if err := ownSession(c, claims); err != nil {
		return err
	}
	if err := onlyQuery(c, "ticket", "lastEventId"); err != nil {
		return err
	}
	// EventSource resends the last id it saw as a header when it
	// reconnects; the query parameter serves clients resuming by hand.
	after := c.GetHeader("Last-Event-ID")
	if after == "" {
		after = c.Query("lastEventId")
	}
	if after != "" && !events.ValidID(after) {
		return widget.FieldError("Last-Event-ID", "must be an event id such as 1700000000000-0")
	}
	edge := s.deps.Edge
	// ClientIP is the peer address, or what WIDGET_TRUSTED_PROXIES vouch
	// for: a client cannot pick the address it is counted under.
	releaseClient, ok := s.clients.acquire(c.ClientIP(), edge.MaxStreamsPerClient)
	if !ok {
		return &widget.Error{Code: widget.CodeTooManyStreams, Message: fmt.Sprintf("at most %d open streams per client address", edge.MaxStreamsPerClient), RetryAfter: 5 * time.Second}
	}
	defer releaseClient()
	release, ok := s.streams.acquire(claims.SessionID, edge.MaxStreamsPerSession)
	if !ok {
		return &widget.Error{Code: widget.CodeTooManyStreams, Message: fmt.Sprintf("at most %d open streams per session", edge.MaxStreamsPerSession), RetryAfter: 5 * time.Second}
	}
	defer release()

	// Revocation is pushed: an entry matching this session, applied on this
	// replica (its own 204, or another's through Redis), ends the stream
	// at once. Listening starts before the stream is announced, and the
	// session is checked once more after it, so a revocation landing
	// between the token's check and here is not left to the liveness
	// tick, which stays the safety net.
	revoked := make(chan struct{}, 1)
	stopListening := edge.Revocations.Subscribe(func(e revoke.Entry) {
		if e.Matches(claims) {
			select {
			case revoked <- struct{}{}:
			default:
			}
		}
	})
	defer stopListening()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx and friends must not buffer a stream
	c.Writer.WriteHeader(http.StatusOK)
	out := sse.NewWriter(c.Writer, writeTimeout)
	if err := out.Comment("stream " + claims.SessionID); err != nil {
		return nil
	}

	ctx, cancel := context.WithCancel(c.Request.Context())
	// A small buffer: Follow reads pages and delivery is paced by the client
	// anyway; each slot costs memory on every open stream.
	evc := make(chan events.Event, 8)
	followed := make(chan error, 1)
	go func() {
		followed <- events.Follow(ctx, edge.Log, claims.SessionID, after, edge.FollowPoll, func(e events.Event) error {
			select {
			case evc <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() { cancel(); <-followed }()

	heartbeat := time.NewTicker(edge.Heartbeat)
	defer heartbeat.Stop()
	liveness := time.NewTicker(edge.LivenessCheck)
	defer liveness.Stop()
	expiry := time.NewTimer(time.Until(time.Unix(claims.Expiry, 0)))
	defer expiry.Stop()
	final := func(code, msg string) {
		_ = out.Event("", events.Error, mustJSON(map[string]string{"code": code, "message": msg}))
	}
	if code, msg := s.ended(claims); code != "" {
		final(code, msg)
		return nil
	}

	for {
		select {
		case e := <-evc:
			var data bytes.Buffer // one line: the log holds JSON, compacted here
			if err := json.Compact(&data, e.Data); err != nil {
				s.logger(c).Error("an event of the log is not JSON; ending the stream", zap.String("event", e.ID), zap.Error(err))
				return nil
			}
			if err := out.Event(e.ID, e.Type, data.Bytes()); err != nil {
				return nil // the client went away
			}
		case <-heartbeat.C:
			if err := out.Comment("ping"); err != nil {
				return nil
			}
		case <-revoked:
			final(endRevoked, "session revoked")
			return nil
		case <-liveness.C:
			if code, msg := s.ended(claims); code != "" {
				final(code, msg)
				return nil
			}
		case <-expiry.C:
			final(endExpired, "session expired")
			return nil
		case <-s.draining:
			// This replica is going away: tell the client to come back at
			// once; it resumes from its Last-Event-ID on another replica.
			_ = out.Retry(250 * time.Millisecond)
			return nil
		case err := <-followed:
			followed <- err // for the deferred wait
			if ctx.Err() == nil {
				s.logger(c).Warn("event log follow ended", zap.Error(err))
				_ = out.Retry(time.Second)
				final("stream_interrupted", "the stream was interrupted; reconnect to resume")
			}
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with maps of strings
	}
	return b
}
