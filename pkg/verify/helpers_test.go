package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
)

// t0 is the fixed "now" of most tests.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// newIssuer returns an Issuer whose clock, and its Verifier's, is t0.
func newIssuer(t testing.TB, opts ...verifytest.Option) *verifytest.Issuer {
	t.Helper()
	return verifytest.NewIssuer(t, append([]verifytest.Option{verifytest.WithNow(at(t0))}, opts...)...)
}

// split returns the three segments of a session token's compact JWS.
func split(t testing.TB, tok string) (h, p, s string) {
	t.Helper()
	_, compact, ok := strings.Cut(tok, "_")
	if ok {
		_, compact, ok = strings.Cut(compact, "_")
	}
	parts := strings.Split(compact, ".")
	if !ok || len(parts) != 3 {
		t.Fatalf("not a session token: %d parts", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// payloadMap returns the claims c, completed by iss, as a JSON object a
// test can bend.
func payloadMap(t testing.TB, iss *verifytest.Issuer, c token.Claims) map[string]any {
	t.Helper()
	body, err := json.Marshal(iss.Claims(c))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantErr verifies tok and checks that it fails with want, and that the
// error text quotes neither the token nor any segment of it.
func wantErr(t *testing.T, v *verify.Verifier, tok string, want error) error {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, want) {
		t.Fatalf("Verify = %+v, %v; want %v", c, err, want)
	}
	if c != nil {
		t.Errorf("Verify returned claims with an error")
	}
	noLeak(t, err, tok)
	if testing.Verbose() {
		t.Log(err)
	}
	return err
}

// noLeak fails if err's text contains tok or a recognisable piece of it.
func noLeak(t *testing.T, err error, tok string) {
	t.Helper()
	msg := err.Error()
	if tok != "" && strings.Contains(msg, tok) {
		t.Fatalf("error text contains the token: %q", msg)
	}
	_, compact, _ := strings.Cut(tok, "_")
	_, compact, _ = strings.Cut(compact, "_")
	for _, piece := range strings.Split(compact, ".") {
		if len(piece) >= 8 && strings.Contains(msg, piece) {
			t.Fatalf("error text contains a token segment: %q", msg)
		}
	}
	if strings.Contains(msg, "verifytest-") {
		t.Fatalf("error text contains the kid: %q", msg)
	}
}

func wantOK(t *testing.T, v *verify.Verifier, tok string) *token.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}
