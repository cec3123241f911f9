package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/ratelimit"
	"github.com/causeflow/widget-sessions/internal/session"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// TestRevokeWaitsOutItsMillisecond: a revocation by time answers only once
// the clock has left its cutoff's millisecond, so that a token minted after
// the answer (its iat_ms later than the cutoff) is never revoked by it:
// "sign out everywhere, then sign in" works at once.
func TestRevokeWaitsOutItsMillisecond(t *testing.T) {
	store := revoke.NewMemory(time.Now, revoke.Limits{})
	limiter, err := ratelimit.NewMemory(1_000_000, time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	r, err := session.NewRevoker(store, limiter, session.Roles{Ops: "ops", Service: "service", OpsTenant: "causeflow"}, 30*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := widget.Caller{Tenant: "demo", Subject: "admin_1", Roles: []string{widget.RoleAdmin}}
	for i := range 200 {
		revoke := r.RevokeUser
		if i%2 == 1 {
			revoke = func(ctx context.Context, caller widget.Caller, tenant, _ string) error {
				return r.RevokeTenant(ctx, widget.Caller{Tenant: "causeflow", Subject: "ops_1", Roles: []string{"ops"}}, "demo")
			}
		}
		if err := revoke(context.Background(), admin, "", "user_alice"); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		c := token.Claims{Tenant: "demo", Subject: "user_alice", IssuedAt: now.Unix(), IssuedAtMs: now.UnixMilli(), Expiry: now.Add(time.Hour).Unix()}
		if revoked, err := store.IsRevoked(&c); err != nil || revoked {
			t.Fatalf("round %d: a token minted after the revocation returned is revoked (%v)", i, err)
		}
	}
}
