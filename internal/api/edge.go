package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/chat"
	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/strictjson"
	"github.com/causeflow/widget-sessions/internal/tenants"
	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// SessionVerifier validates a session token locally. *verify.Verifier
// satisfies it.
type SessionVerifier interface {
	Verify(ctx context.Context, tok string) (*token.Claims, error)
}

// Chat accepts a user's message and starts the assistant's reply.
type Chat interface {
	Send(ctx context.Context, c *token.Claims, m chat.Message) (messageID string, err error)
	Stop(ctx context.Context, c *token.Claims, messageID string) error
	Rate(ctx context.Context, c *token.Claims, messageID, rating, reason string) (chat.Feedback, error)
}

// Tickets issues and redeems single-use stream tickets.
type Tickets interface {
	Issue(ctx context.Context, c *token.Claims, ttl time.Duration) (string, error)
	Redeem(ctx context.Context, sessionID, ticket string) (*token.Claims, error)
}

// TenantSettings gives a tenant's settings, defaults applied (an unknown
// tenant, or "", gets the defaults): *tenants.Store.
type TenantSettings interface {
	Get(tenant string) tenants.Settings
}

// Incidents looks up an incident's context.
type Incidents interface {
	Lookup(ctx context.Context, tenant, id string) (incident.Incident, error)
}

// sessionCaller authenticates the widget from its session token.
func sessionCaller(c *gin.Context, verifier SessionVerifier) (*token.Claims, error) {
	scheme, tok, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, widget.Errorf(widget.CodeUnauthorized, "missing session token")
	}
	claims, err := verifier.Verify(c, tok)
	if err != nil {
		return nil, err // answered by sentinelAnswers
	}
	r := requestOf(c)
	r.tenant, r.session, r.subject = claims.Tenant, claims.SessionID, claims.Subject
	return claims, nil
}

// sessionOwner authenticates the widget from its session token and checks
// that the path's sessionId is that session's.
func sessionOwner(c *gin.Context, verifier SessionVerifier) (*token.Claims, error) {
	claims, err := sessionCaller(c, verifier)
	if err != nil {
		return nil, err
	}
	if err := ownSession(c, claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// ownSession checks that the path's sessionId is the token's own.
func ownSession(c *gin.Context, claims *token.Claims) error {
	if c.Param("sessionId") != claims.SessionID {
		return widget.Errorf(widget.CodeForbidden, "the session token is not for this session")
	}
	return nil
}

// allow counts one request of key on limiter: a 429 rate_limited past
// its bound, a 503 when the count cannot be kept (fail closed).
func allow(c *gin.Context, limiter ratelimit.Limiter, key string) error {
	switch ok, retry, err := limiter.Allow(c, key); {
	case err != nil:
		return fmt.Errorf("%w: %w", ratelimit.ErrUnavailable, err) // answered by sentinelAnswers
	case !ok:
		return &widget.Error{Code: widget.CodeRateLimited, Message: "too many requests for this session; retry later", RetryAfter: retry}
	}
	return nil
}

// sessionInfo is the body of GET /v1/widget/session.
type sessionInfo struct {
	SessionID string             `json:"sessionId"`
	UserID    string             `json:"userId"`
	TenantID  string             `json:"tenantId"`
	ExpiresAt string             `json:"expiresAt"`
	Incident  *incident.Incident `json:"incident"`
	// ContextStatus is "none" (no incidentId), "loaded", or "unavailable"
	// (the incident source cannot be reached now; the widget may retry).
	ContextStatus string `json:"contextStatus"`
}

// widgetSession handles GET /v1/widget/session: who the session is and
// its incident context.
func widgetSession(verifier SessionVerifier, limiter ratelimit.Limiter, incidents Incidents) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		claims, err := sessionCaller(c, verifier)
		if err != nil {
			return err
		}
		if err := allow(c, limiter, "session:"+claims.SessionID); err != nil {
			return err
		}
		info := sessionInfo{
			SessionID: claims.SessionID, UserID: claims.Subject, TenantID: claims.Tenant,
			ExpiresAt: time.Unix(claims.Expiry, 0).UTC().Format(time.RFC3339), ContextStatus: "none",
		}
		if claims.Incident != "" {
			// Keyed by the token's tenant and incident: a context is only ever
			// served to a session of its own tenant and incident.
			inc, err := incidents.Lookup(c, claims.Tenant, claims.Incident)
			if err != nil {
				loggerOf(c).Warn("incident context unavailable", zap.Error(err))
				info.ContextStatus = "unavailable"
			} else {
				info.Incident, info.ContextStatus = &inc, "loaded"
			}
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, info)
		return nil
	})
}

// sendMessage handles POST /v1/widget/sessions/{sessionId}/messages.
func sendMessage(verifier SessionVerifier, conv Chat) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		claims, m, err := ownerBody(c, verifier, "content", "locale")
		if err != nil {
			return err
		}
		content, err := stringMember(m, "content", true)
		if err != nil {
			return err
		}
		locale, err := stringMember(m, "locale", false)
		if err != nil {
			return err
		}
		id, err := conv.Send(c, claims, chat.Message{Content: content, Locale: locale})
		if err != nil {
			return err
		}
		c.JSON(http.StatusAccepted, gin.H{"messageId": id})
		return nil
	})
}

// stopReply handles POST /v1/widget/sessions/{sessionId}/messages/{messageId}/stop:
// the reply to that message, wherever it runs, ends with response.cancelled.
func stopReply(verifier SessionVerifier, limiter ratelimit.Limiter, conv Chat) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		claims, err := sessionOwner(c, verifier)
		if err != nil {
			return err
		}
		if err := onlyQuery(c); err != nil {
			return err
		}
		// Each stop is a PUBLISH every replica (and every Cluster node)
		// receives: a session's stops are bounded.
		if err := allow(c, limiter, "stop:"+claims.SessionID); err != nil {
			return err
		}
		if err := conv.Stop(c, claims, c.Param("messageId")); err != nil {
			return err
		}
		c.Status(http.StatusNoContent)
		return nil
	})
}

// rateAnswer handles POST /v1/widget/sessions/{sessionId}/messages/{messageId}/feedback:
// the user's rating of a finished answer, recorded in the session's event
// log (every stream of the session shows it as feedback.created), counted
// in widget_sessions_feedback_total and written to the audit trail. Its
// count per session is its own ("feedback:<sessionId>").
func rateAnswer(verifier SessionVerifier, limiter ratelimit.Limiter, conv Chat, metrics *Metrics) gin.HandlerFunc {
	return handle(func(c *gin.Context) error {
		claims, m, err := ownerBody(c, verifier, "rating", "reason")
		if err != nil {
			return err
		}
		rating, err := stringMember(m, "rating", true)
		if err != nil {
			return err
		}
		reason, err := stringMember(m, "reason", false)
		if err != nil {
			return err
		}
		if err := allow(c, limiter, "feedback:"+claims.SessionID); err != nil {
			return err
		}
		f, err := conv.Rate(c, claims, c.Param("messageId"), rating, reason)
		if err != nil {
			return err
		}
		requestOf(c).rating = f.Rating
		metrics.observeFeedback(f.Rating)
		c.JSON(http.StatusCreated, f)
		return nil
	})
}

// ownerBody authenticates the session's owner (sessionOwner) and reads
// the request's JSON object, which may hold the members named only.
func ownerBody(c *gin.Context, verifier SessionVerifier, members ...string) (*token.Claims, strictjson.Members, error) {
	claims, err := sessionOwner(c, verifier)
	if err != nil {
		return nil, nil, err
	}
	body, err := readJSONBody(c)
	if err != nil {
		return nil, nil, err
	}
	m, err := strictjson.ParseObject(body, members...)
	if err != nil {
		return nil, nil, validationError(err)
	}
	return claims, m, nil
}

// stringMember is body member name, a string: "" when it is left out,
// and a validation error naming it when it is required and left out, or
// not a string.
func stringMember(m strictjson.Members, name string, required bool) (string, error) {
	v, err := m.String(name)
	switch {
	case err != nil:
		return "", validationError(err)
	case v == nil && required:
		return "", widget.FieldError(name, "is required")
	case v == nil:
		return "", nil
	}
	return *v, nil
}

// streamTicket handles POST /v1/widget/sessions/{sessionId}/stream-tickets:
// a browser's EventSource cannot send an Authorization header, and a
// session token must never travel in a URL (URLs end up in logs, history
// and Referer headers). The ticket that does travel in the URL is useless
// seconds later, and after one use.
func streamTicket(verifier SessionVerifier, tickets Tickets, limiter ratelimit.Limiter, ttl time.Duration, metrics *Metrics) gin.HandlerFunc {
	return handle(func(c *gin.Context) (err error) {
		defer func() { metrics.observeTicket(err) }()
		claims, err := sessionOwner(c, verifier)
		if err != nil {
			return err
		}
		if err := allow(c, limiter, "ticket:"+claims.SessionID); err != nil {
			return err
		}
		t, err := tickets.Issue(c, claims, ttl)
		switch {
		case errors.Is(err, ticket.ErrSessionLimit):
			// The oldest outstanding ticket expires within a TTL at most.
			return withRetryAfter(err, ttl)
		case errors.Is(err, ticket.ErrFull):
			metrics.observeRefusal(c.FullPath(), "ticket_store_full")
			loggerOf(c).Error("the ticket store is full: every session is refused tickets until some expire; the per-session bound should have prevented this", zap.Error(err))
			return err
		case err != nil:
			return fmt.Errorf("%w: %w", ticket.ErrUnavailable, err)
		}
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusCreated, gin.H{"ticket": t, "expiresIn": int(ttl / time.Second)})
		return nil
	})
}
