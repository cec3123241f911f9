package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Texts that a failing minter puts in its panic or error: they belong in
// the logs, never in a response.
const (
	panicText = "minter exploded: secret-panic-detail-7f3a"
	errorText = "db: connection to 10.0.0.7 reset: secret-error-detail-91c2"
)

// failingMinter panics for userId user_panic, fails with a plain error
// for user_error, and otherwise hands over to the real minter.
func failingMinter(real api.Minter) api.Minter {
	return fakeMinter{mint: func(ctx context.Context, c widget.Caller, r widget.SessionRequest) (widget.Session, error) {
		switch r.UserID {
		case "user_panic":
			panic(panicText)
		case "user_panic_error":
			panic(fmt.Errorf("wrapped: %w", errors.New(panicText)))
		case "user_error":
			return widget.Session{}, fmt.Errorf("session: lookup: %w", errors.New(errorText))
		}
		return real.Mint(ctx, c, r)
	}}
}

// TestUnexpectedMinterFailures checks that a panic or an error without a
// domain code is answered 500 internal_error with a generic message, that
// the details are logged under the request id, that nothing counts as
// created, and that the server keeps serving.
func TestUnexpectedMinterFailures(t *testing.T) {
	f := newFixture(t, withMinter(failingMinter))
	tests := []struct {
		name    string
		userID  string
		secret  string
		wantLog string // the log message carrying the details
	}{
		{"panic with a string", "user_panic", panicText, "panic in handler"},
		{"panic with an error", "user_panic_error", panicText, "panic in handler"},
		{"plain error", "user_error", errorText, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := mintCount(t, f.reg, "created")
			failed := mintCount(t, f.reg, "internal_error")
			resp := f.do(t, f.mintRequest(t, f.bearer(t), `{"userId":"`+tt.userID+`"}`))
			e := checkError(t, resp, http.StatusInternalServerError, "internal_error")
			if e.Message != "internal error" {
				t.Errorf("message = %q, want %q", e.Message, "internal error")
			}
			for _, s := range []string{tt.secret, "secret-", "goroutine", ".go:"} {
				if strings.Contains(string(resp.Body), s) {
					t.Errorf("body %s contains %q", resp.Body, s)
				}
			}
			if got := mintCount(t, f.reg, "created"); got != created {
				t.Errorf("mints_total{created} went from %v to %v on a failed mint", created, got)
			}
			if got := mintCount(t, f.reg, "internal_error"); got != failed+1 {
				t.Errorf("mints_total{internal_error} = %v, want %v", got, failed+1)
			}

			id := resp.Header.Get(api.HeaderRequestID)
			var detail, access bool
			for _, entry := range f.logs.withRequestID(t, id) {
				line := fmt.Sprint(entry)
				if entry["msg"] == tt.wantLog && entry["level"] == "error" && strings.Contains(line, tt.secret) {
					detail = true
				}
				if entry["msg"] == "request" && entry["status"] == float64(500) {
					access = true
				}
			}
			if !detail {
				t.Errorf("no %q error logged with the details under request id %s; logs:\n%s", tt.wantLog, id, f.logs)
			}
			if !access {
				t.Errorf("no access log line with status 500 under request id %s", id)
			}

			// The same server, the same connection pool: still serving.
			next := f.do(t, f.mintRequest(t, f.bearer(t), `{"userId":"user_alice"}`))
			decodeCreated(t, next)
		})
	}
}

// TestRenderErrorWithoutStatus checks that a domain error whose code has
// no HTTP status is still answered, as a 500 that names no code of its own.
func TestRenderErrorWithoutStatus(t *testing.T) {
	f := newFixture(t, withMinter(func(api.Minter) api.Minter {
		return fakeMinter{mint: func(context.Context, widget.Caller, widget.SessionRequest) (widget.Session, error) {
			return widget.Session{}, widget.Errorf("quota_exceeded", "too many sessions")
		}}
	}))
	resp := f.do(t, f.mintRequest(t, f.bearer(t), `{"userId":"user_alice"}`))
	if resp.Status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500: %s", resp.Status, resp.Body)
	}
	if !strings.Contains(string(resp.Body), `"code":"internal_error"`) || strings.Contains(string(resp.Body), "quota") || strings.Contains(string(resp.Body), "too many") {
		t.Errorf("body = %s; want a generic internal_error without the unmapped code or message", resp.Body)
	}
	if !strings.Contains(f.logs.String(), "error code without a status") {
		t.Errorf("the unmapped code was not logged; logs:\n%s", f.logs)
	}
}
