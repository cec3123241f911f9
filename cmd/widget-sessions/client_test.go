package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/client"
)

// TestGoClient drives the real server started by run with pkg/client, as a
// customer's Go backend and an ops tool would: mint, introspect, revoke a
// session, a user and a tenant, and the API's errors as typed errors with
// their codes, statuses and request ids, never holding the caller JWT.
func TestGoClient(t *testing.T) {
	s := startServer(t, map[string]string{"WIDGET_MINT_RATE_LIMIT": "5"})
	admin := devToken(t, s, "demo", "admin_dana", "admin")
	gateway := devToken(t, s, "causeflow", "gateway", "service")
	ops := devToken(t, s, "causeflow", "oncall", "ops")
	newClient := func(tok string) *client.Client {
		c, err := client.New(s.public, client.StaticToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, gw, op := newClient(admin), newClient(gateway), newClient(ops)
	ctx := t.Context()

	sess, err := c.CreateSession(ctx, client.SessionRequest{UserID: "user_alice", IncidentID: "inc_EXAMPLE_01JX", TTL: 10 * time.Minute})
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if !strings.HasPrefix(sess.SessionID, "wsess_") || !strings.HasPrefix(sess.SessionToken, "wst_test_") ||
		!strings.Contains(sess.WidgetURL, sess.SessionID) || time.Until(sess.ExpiresAt) > 10*time.Minute || time.Until(sess.ExpiresAt) < 9*time.Minute {
		t.Errorf("CreateSession = %+v", sess)
	}
	in, err := gw.Introspect(ctx, sess.SessionToken)
	if err != nil || !in.Active || in.SessionID != sess.SessionID || in.Subject != "user_alice" || in.Tenant != "demo" || in.Incident != "inc_EXAMPLE_01JX" {
		t.Fatalf("Introspect = %+v, %v", in, err)
	}
	if err := c.RevokeSession(ctx, sess.SessionID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if in, err := gw.Introspect(ctx, sess.SessionToken); err != nil || in.Active || in.SessionID != "" {
		t.Errorf("Introspect after the revocation = %+v, %v; want inactive alone", in, err)
	}

	// A user's sessions, by ops in the user's tenant; then a tenant's.
	for _, revoke := range []func(tok string) error{
		func(string) error { return op.RevokeUser(ctx, "user_bob", client.InTenant("demo")) },
		func(string) error { return op.RevokeTenant(ctx, "demo") },
	} {
		// A user's or tenant's revocation covers tokens issued up to its
		// second: the next session is minted a second later, so that only
		// this round's revocation can end it.
		time.Sleep(1100 * time.Millisecond)
		s2, err := c.CreateSession(ctx, client.SessionRequest{UserID: "user_bob"})
		if err != nil {
			t.Fatal(err)
		}
		if in, err := gw.Introspect(ctx, s2.SessionToken); err != nil || !in.Active {
			t.Fatalf("Introspect before the revocation = %+v, %v", in, err)
		}
		if err := revoke(s2.SessionToken); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if in, err := gw.Introspect(ctx, s2.SessionToken); err != nil || in.Active {
			t.Errorf("Introspect after the revocation = %+v, %v", in, err)
		}
	}

	// The API's errors, typed.
	for _, tc := range []struct {
		name   string
		call   func() error
		want   *client.Error
		status int
		field  string
	}{
		{"unknown user", func() error {
			_, err := c.CreateSession(ctx, client.SessionRequest{UserID: "user_nobody"})
			return err
		}, client.ErrUserNotFound, 404, ""},
		{"unknown incident", func() error {
			_, err := c.CreateSession(ctx, client.SessionRequest{UserID: "user_alice", IncidentID: "inc_NOPE"})
			return err
		}, client.ErrIncidentNotFound, 404, ""},
		{"TTL over 24 h", func() error {
			_, err := c.CreateSession(ctx, client.SessionRequest{UserID: "user_alice", TTL: 25 * time.Hour})
			return err
		}, client.ErrValidation, 400, "ttlSeconds"},
		{"a bad caller JWT", func() error {
			_, err := newClient(admin+"x").CreateSession(ctx, client.SessionRequest{UserID: "user_alice"})
			return err
		}, client.ErrUnauthorized, 401, ""},
		{"introspection without the service role", func() error {
			_, err := c.Introspect(ctx, "wst_test_x.y.z")
			return err
		}, client.ErrForbidden, 403, ""},
		{"another tenant, without ops", func() error { return c.RevokeTenant(ctx, "acme") }, client.ErrForbidden, 403, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var e *client.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &e) || e.Status != tc.status || e.Field != tc.field || !strings.HasPrefix(e.RequestID, "req_") {
				t.Fatalf("err = %#v, want %s (%d, field %q) with a request id", err, tc.want.Code, tc.status, tc.field)
			}
			if strings.Contains(err.Error(), admin) || strings.Contains(err.Error(), "eyJ") {
				t.Errorf("the error holds a token: %v", err)
			}
		})
	}

	// The tenant's mint budget (5 a minute here) runs out: rate_limited,
	// with when to retry.
	var err429 error
	for range 10 {
		if _, err429 = c.CreateSession(ctx, client.SessionRequest{UserID: "user_alice"}); err429 != nil {
			break
		}
	}
	var e *client.Error
	if !errors.Is(err429, client.ErrRateLimited) || !errors.As(err429, &e) || e.Status != 429 || e.RetryAfter <= 0 {
		t.Errorf("past the budget: %#v, want rate_limited with a Retry-After", err429)
	}
}
