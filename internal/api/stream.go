package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/internal/sse"
	"github.com/causeflow/widget-sessions/internal/stream"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// writeTimeout bounds one write to a stream: a client that stops reading
// is dropped instead of holding a goroutine and a buffer forever.
const writeTimeout = 10 * time.Second

// streamCaller authenticates a stream request: the session token in the
// Authorization header, or (for EventSource) a single-use ticket in the
// query. The ticket's claims were verified when it was issued; revocation
// and expiry are checked again here, and the Hub watches them all along
// the stream.
func streamCaller(c *gin.Context, verifier SessionVerifier, tickets Tickets, streams *stream.Hub) (*token.Claims, error) {
	if c.GetHeader("Authorization") != "" {
		return sessionCaller(c, verifier)
	}
	t := c.Query("ticket")
	if t == "" {
		return nil, widget.Errorf(widget.CodeUnauthorized, "missing session token or stream ticket")
	}
	// Redeemed under the path's session: a ticket presented for another
	// session is not found there, and stays redeemable by its own.
	claims, err := tickets.Redeem(c, c.Param("sessionId"), t)
	if err != nil {
		return nil, err // answered by sentinelAnswers
	}
	if end := streams.Check(claims); end != nil {
		return nil, end // answered by sentinelAnswers
	}
	r := requestOf(c)
	r.tenant, r.session, r.subject = claims.Tenant, claims.SessionID, claims.Subject
	return claims, nil
}

// streamEvents handles GET /v1/widget/sessions/{sessionId}/stream: Server-Sent
// Events of the session's event log, from after Last-Event-ID, then live,
// until the stream.Hub ends it.
func streamEvents(verifier SessionVerifier, tickets Tickets, streams *stream.Hub) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		claims, err := streamCaller(c, verifier, tickets, streams)
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
		// ClientIP is the peer address, or what WIDGET_TRUSTED_PROXIES vouch
		// for: a client cannot pick the address it is counted under.
		st, err := streams.Open(c, stream.Request{Claims: claims, After: after, Client: c.ClientIP()})
		if err != nil {
			return err // events.ErrUnavailable is answered by sentinelAnswers
		}

		h := c.Writer.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no") // nginx and friends must not buffer a stream
		// An HTTP/1.1 stream leaves net/http: a goroutine of its own writes it,
		// and net/http's goroutines and buffers for the connection are let go
		// (most of what a held stream would cost). Over HTTP/2 it is served
		// here, through the response.
		out, conn, err := sse.Hijack(c.Writer, writeTimeout)
		if errors.Is(err, sse.ErrNotHijackable) {
			defer st.Close()
			c.Writer.WriteHeader(http.StatusOK)
			out = sse.NewWriter(c.Writer, writeTimeout)
			pump(c.Request.Context(), st, out)
			return nil
		}
		if err != nil {
			st.Close()
			return nil // the client went away
		}
		st.SetProbe(func() bool { return sse.Alive(conn) })
		go func() {
			defer conn.Close()
			defer st.Close()
			// No request context: nothing reads the connection any more, and a
			// client that left is found out by the next write (a heartbeat, at
			// the latest), or the stream's end.
			pump(context.Background(), st, out)
		}()
		return nil
	})
}

// pump writes a stream's batches to out until the stream ends, the client
// goes away (a write fails), or ctx ends.
func pump(ctx context.Context, st *stream.Stream, out *sse.Writer) {
	if err := out.Comment("stream " + st.Claims().SessionID); err != nil {
		return
	}
	for {
		b, err := st.Next(ctx)
		if err != nil {
			return
		}
		for _, e := range b.Events {
			// The id is empty for a stream.reset; the data is compact JSON
			// on one line, as the log holds it.
			if err := out.Event(e.ID, e.Type, e.Data); err != nil {
				return
			}
		}
		switch {
		case b.End != nil:
			end, _ := json.Marshal(b.End)
			_ = out.Event("", events.Error, end)
			return
		case b.Reconnect > 0:
			// This replica is going away: the client comes back at once
			// and resumes from its Last-Event-ID on another replica.
			_ = out.Retry(b.Reconnect)
			return
		case b.Ping:
			if err := out.Comment("ping"); err != nil {
				return
			}
		}
	}
}
