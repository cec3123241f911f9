package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/internal/ticket"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// signRawCaller signs exactly header and payload with the identity
// provider's key: a token only the provider, or whoever holds its key,
// could make.
func (f *fixture) signRawCaller(t *testing.T, header, payload string) string {
	t.Helper()
	var priv ed25519.PrivateKey
	if err := jwk.Export(f.idpKey, &priv); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

// TestLenientCallerJWTsRefused: through the real HTTP stack, a caller JWT
// signed by the identity provider's key but with a nested token, a payload
// that is not one JSON object, or a header member twice is 401; the same
// claims in the one accepted shape mint.
func TestLenientCallerJWTsRefused(t *testing.T) {
	f := newFixture(t)
	kid, ok := f.idpKey.KeyID()
	if !ok {
		t.Fatal("the dev IdP key has no kid")
	}
	b, err := json.Marshal(callerClaims())
	if err != nil {
		t.Fatal(err)
	}
	claims := string(b)
	header := `{"alg":"EdDSA","kid":"` + kid + `","typ":"JWT"}`
	inner := f.signRawCaller(t, header, claims)
	for _, c := range []struct {
		name, header, payload string
		status                int
	}{
		{"the accepted shape", header, claims, http.StatusCreated},
		{"nested JWT", `{"alg":"EdDSA","kid":"` + kid + `","cty":"JWT"}`, inner, http.StatusUnauthorized},
		{"payload a string holding a JWT", header, `"` + inner + `"`, http.StatusUnauthorized},
		{"payload an array", header, `[` + claims + `]`, http.StatusUnauthorized},
		{"duplicate alg", `{"alg":"EdDSA","alg":"EdDSA","kid":"` + kid + `"}`, claims, http.StatusUnauthorized},
		{"duplicate tid", header, claims[:len(claims)-1] + `,"tid":"acme"}`, http.StatusUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := f.signRawCaller(t, c.header, c.payload)
			resp := f.do(t, f.mintRequest(t, "Bearer "+tok, `{"userId":"user_alice"}`))
			if resp.Status != c.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, c.status)
			}
		})
	}
}

// fullTickets is a ticket store at its global bound.
type fullTickets struct{}

func (fullTickets) Issue(context.Context, *token.Claims, time.Duration) (string, error) {
	return "", fmt.Errorf("test: %w: %w", ticket.ErrFull, ticket.ErrUnavailable)
}

func (fullTickets) Redeem(context.Context, string, string) (*token.Claims, error) {
	return nil, ticket.ErrInvalid
}

// TestTicketStoreFull: the global ticket bound, the last resort, answers
// 503, and is counted and logged at error level, so that an operator sees
// that the per-session bound was not enough.
func TestTicketStoreFull(t *testing.T) {
	f := newFixture(t, withTickets(fullTickets{}))
	m := f.mint(t, `{"userId":"user_alice"}`)
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1/widget/sessions/"+m.SessionID+"/stream-tickets", nil)
	req.Header.Set("Authorization", "Bearer "+m.SessionToken)
	checkError(t, f.do(t, req), http.StatusServiceUnavailable, "dependency_unavailable")
	labels := map[string]string{"route": "/v1/widget/sessions/:sessionId/stream-tickets", "code": "ticket_store_full"}
	if n := counterValue(t, f.reg, "widget_sessions_limit_refusals_total", labels); n != 1 {
		t.Errorf("ticket_store_full counted %v times, want 1", n)
	}
	if !strings.Contains(f.logs.String(), "the ticket store is full") {
		t.Errorf("no log line about the full ticket store:\n%s", f.logs)
	}
}

// downTickets is a ticket store that cannot answer (Redis down).
type downTickets struct{}

func (downTickets) Issue(context.Context, *token.Claims, time.Duration) (string, error) {
	return "", fmt.Errorf("test: %w", ticket.ErrUnavailable)
}

func (downTickets) Redeem(context.Context, string, string) (*token.Claims, error) {
	return nil, fmt.Errorf("test: %w", ticket.ErrUnavailable)
}

// TestTicketStoreDown: a ticket store that cannot answer is 503
// dependency_unavailable, issuing and redeeming alike (the ticket
// contract's ErrUnavailable), never a 401 that would send the widget for a
// new ticket the store cannot give either.
func TestTicketStoreDown(t *testing.T) {
	f := newFixture(t, withTickets(downTickets{}))
	m := f.mint(t, `{"userId":"user_alice"}`)
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/v1/widget/sessions/"+m.SessionID+"/stream-tickets", nil)
	req.Header.Set("Authorization", "Bearer "+m.SessionToken)
	checkError(t, f.do(t, req), http.StatusServiceUnavailable, "dependency_unavailable")
	_, resp := f.openStream(t, m.SessionID, streamOpts{ticket: "wstk_" + strings.Repeat("A", 43)})
	checkError(t, resp, http.StatusServiceUnavailable, "dependency_unavailable")
}
