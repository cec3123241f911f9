package ticket_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/internal/ticket/tickettest"
)

func TestMemoryContract(t *testing.T) {
	tickettest.Run(t, func(_ *testing.T, now func() time.Time, maxPerSession int) ticket.Store {
		return ticket.NewMemory(now, maxPerSession)
	})
}

func TestValid(t *testing.T) {
	tk, err := ticket.New()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, ticket string
		want         bool
	}{
		{"new", tk, true},
		{"all zero bytes", ticket.Prefix + strings.Repeat("A", 43), true},
		// 43 characters carry 258 bits: the last two must be zero, or two
		// spellings would name one ticket.
		{"non-canonical last character", ticket.Prefix + strings.Repeat("A", 42) + "B", false},
		{"empty", "", false},
		{"prefix only", ticket.Prefix, false},
		{"short", tk[:len(tk)-1], false},
		{"long", tk + "A", false},
		{"padded", tk + "=", false},
		{"standard alphabet", ticket.Prefix + strings.Repeat("+", 43), false},
		{"session token prefix", "wst_live_" + tk[len(ticket.Prefix):], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ticket.Valid(tc.ticket); got != tc.want {
				t.Errorf("Valid(%q) = %v, want %v", tc.ticket, got, tc.want)
			}
		})
	}
	if !strings.HasPrefix(tk, "wstk_") || len(tk) != len("wstk_")+43 {
		t.Errorf("ticket %q: want wstk_ and 43 base64url characters", tk)
	}
}

func TestHash(t *testing.T) {
	tk, _ := ticket.New()
	h := ticket.Hash("wsess_1", tk)
	if len(h) != 64 || strings.Contains(h, tk[len(ticket.Prefix):]) || h != ticket.Hash("wsess_1", tk) {
		t.Errorf("Hash = %q: want 64 hex digits, stable, not containing the ticket", h)
	}
	if h == ticket.Hash("wsess_2", tk) || ticket.Hash("a", "bc") == ticket.Hash("ab", "c") {
		t.Error("Hash does not depend on the session, or the two run together")
	}
}

// TestMemoryBounded: a full store refuses new tickets (ErrUnavailable)
// rather than drop outstanding ones, and makes room once they expire.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("issues DefaultMaxTickets tickets")
	}
	now := time.Now()
	m := ticket.NewMemory(func() time.Time { return now }, 1)
	ctx := context.Background()
	for i := range ticket.DefaultMaxTickets {
		c := tickettest.Claims(fmt.Sprintf("wsess_%d", i)) // one each: the per-session cap stays out of the way
		if _, err := m.Issue(ctx, &c, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	c := tickettest.Claims("wsess_another")
	if _, err := m.Issue(ctx, &c, time.Minute); !errors.Is(err, ticket.ErrUnavailable) || !errors.Is(err, ticket.ErrFull) {
		t.Fatalf("Issue on a full store = %v, want ErrFull and ErrUnavailable", err)
	}
	now = now.Add(time.Minute + time.Second)
	if _, err := m.Issue(ctx, &c, time.Minute); err != nil {
		t.Fatalf("Issue once the others expired = %v", err)
	}
	if n := m.Len(); n != 1 {
		t.Errorf("Len = %d after the sweep, want 1", n)
	}
}
