// Package client is the Go client of the widget-sessions API for
// customers' backends and ops tools: mint a session, revoke sessions,
// introspect a token. Every failure the API answers is an *Error carrying
// its code (validation_error, user_not_found, rate_limited, ...), which
// errors.Is matches against the Err* values. It imports only the standard
// library. A caller JWT is sent as a bearer token and never appears in an
// error.
//
//	c, err := client.New("https://api.causeflow.ai", client.StaticToken(callerJWT))
//	s, err := c.CreateSession(ctx, client.SessionRequest{UserID: "user_alice", IncidentID: "inc_1"})
//	if errors.Is(err, client.ErrUserNotFound) { ... }
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds what the client reads of an answer.
const maxBody = 1 << 20

// TokenSource gives the caller JWT for a request: the client asks for it
// on every request, so a source may renew it.
type TokenSource func(ctx context.Context) (string, error)

// StaticToken is a TokenSource of one caller JWT.
func StaticToken(jwt string) TokenSource {
	return func(context.Context) (string, error) { return jwt, nil }
}

// Client calls one widget-sessions API. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[/path], without a trailing slash
	token TokenSource
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends the requests with hc (default: a client with a 10 s
// timeout). The client never follows a redirect, whatever hc would: a
// redirect would resend the caller JWT elsewhere.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a Client of the API at baseURL (https, or http for a
// development machine), authenticating with token.
func New(baseURL string, token TokenSource, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("client: the base URL must be http(s)://host[/path], with no query or fragment")
	}
	if token == nil {
		return nil, errors.New("client: a TokenSource is required")
	}
	c := &Client{base: strings.TrimRight(u.String(), "/"), token: token, http: &http.Client{Timeout: 10 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

// SessionRequest is what a session is minted for.
type SessionRequest struct {
	UserID     string
	IncidentID string        // optional
	TTL        time.Duration // optional: whole seconds, up to 24 h; zero is the API's default (8 h)
}

// Session is a minted session: hand SessionToken and WidgetURL to the page.
type Session struct {
	SessionID    string    `json:"sessionId"`
	SessionToken string    `json:"sessionToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	WidgetURL    string    `json:"widgetUrl"`
}

// CreateSession mints a session (POST /v1/widget/sessions).
func (c *Client) CreateSession(ctx context.Context, r SessionRequest) (*Session, error) {
	body := map[string]any{"userId": r.UserID}
	if r.IncidentID != "" {
		body["incidentId"] = r.IncidentID
	}
	if r.TTL != 0 {
		if r.TTL%time.Second != 0 {
			return nil, errors.New("client: TTL must be whole seconds")
		}
		body["ttlSeconds"] = int64(r.TTL / time.Second)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	var s Session
	if err := c.do(ctx, http.MethodPost, "/v1/widget/sessions", "application/json", b, http.StatusCreated, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// RevokeOption changes a revocation.
type RevokeOption func(q url.Values)

// InTenant acts in tenant, for a caller with the ops role of the operator
// tenant (the tenantId query parameter).
func InTenant(tenant string) RevokeOption { return func(q url.Values) { q.Set("tenantId", tenant) } }

// RevokeSession revokes one session (DELETE /v1/widget/sessions/{id}).
func (c *Client) RevokeSession(ctx context.Context, sessionID string, opts ...RevokeOption) error {
	return c.revoke(ctx, "/v1/widget/sessions/"+url.PathEscape(sessionID), opts)
}

// RevokeUser revokes every session of a user
// (DELETE /v1/widget/users/{id}/sessions).
func (c *Client) RevokeUser(ctx context.Context, userID string, opts ...RevokeOption) error {
	return c.revoke(ctx, "/v1/widget/users/"+url.PathEscape(userID)+"/sessions", opts)
}

// RevokeTenant revokes every session of a tenant, for the ops role
// (DELETE /v1/widget/tenants/{id}/sessions).
func (c *Client) RevokeTenant(ctx context.Context, tenantID string) error {
	return c.revoke(ctx, "/v1/widget/tenants/"+url.PathEscape(tenantID)+"/sessions", nil)
}

func (c *Client) revoke(ctx context.Context, path string, opts []RevokeOption) error {
	q := url.Values{}
	for _, o := range opts {
		o(q)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.do(ctx, http.MethodDelete, path, "", nil, http.StatusNoContent, nil)
}

// Introspection is RFC 7662's answer: Active false alone, or the claims.
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	Subject   string `json:"sub"`
	Tenant    string `json:"tid"`
	SessionID string `json:"sid"`
	ID        string `json:"jti"`
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	Incident  string `json:"inc"`
}

// Introspect asks whether a session token is active
// (POST /v1/widget/tokens/introspect), for a caller with the service role.
// An inactive token is no error: Active is false. ErrRevocationUnknown
// means the service cannot tell now; never read it as either answer.
func (c *Client) Introspect(ctx context.Context, sessionToken string) (*Introspection, error) {
	form := url.Values{"token": {sessionToken}}.Encode()
	var in Introspection
	if err := c.do(ctx, http.MethodPost, "/v1/widget/tokens/introspect", "application/x-www-form-urlencoded", []byte(form), http.StatusOK, &in); err != nil {
		return nil, err
	}
	return &in, nil
}

// do sends one request and decodes a success into out, or the API's error.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte, want int, out any) error {
	tok, err := c.token(ctx)
	if err != nil {
		return fmt.Errorf("client: caller token: %w", err)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, redact(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("client: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode == want {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("client: %s %s: undecodable answer: %w", method, path, err)
		}
		return nil
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, e) != nil || e.Code == "" {
		e.Code, e.Message = "unexpected_status", fmt.Sprintf("%s %s answered %s", method, path, resp.Status)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// redact keeps a transport error's cause without the URL's query, where a
// token must never be but a caller's mistake could put one.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			ue.URL = u.Redacted()
		}
	}
	return err
}
