package widget_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

func ptr[T any](v T) *T { return &v }

func TestSessionParamsValidate(t *testing.T) {
	long := strings.Repeat("a", widget.MaxIDLength)
	tests := []struct {
		name      string
		p         widget.SessionParams
		want      widget.SessionRequest
		wantField string // "" = valid
	}{
		{"defaults", widget.SessionParams{UserID: ptr("user_alice")},
			widget.SessionRequest{UserID: "user_alice", TTL: 8 * time.Hour}, ""},
		{"all fields", widget.SessionParams{UserID: ptr("u"), IncidentID: ptr("inc_1"), TTLSeconds: ptr(int64(60))},
			widget.SessionRequest{UserID: "u", IncidentID: "inc_1", TTL: time.Minute}, ""},
		{"max id length", widget.SessionParams{UserID: ptr(long)}, widget.SessionRequest{UserID: long, TTL: widget.DefaultTTL}, ""},
		{"max id length in runes", widget.SessionParams{UserID: ptr(strings.Repeat("é", 128))},
			widget.SessionRequest{UserID: strings.Repeat("é", 128), TTL: widget.DefaultTTL}, ""},
		{"ttl min", widget.SessionParams{UserID: ptr("u"), TTLSeconds: ptr(int64(1))}, widget.SessionRequest{UserID: "u", TTL: time.Second}, ""},
		{"ttl max", widget.SessionParams{UserID: ptr("u"), TTLSeconds: ptr(int64(86400))}, widget.SessionRequest{UserID: "u", TTL: 24 * time.Hour}, ""},
		{"user missing", widget.SessionParams{}, widget.SessionRequest{}, "userId"},
		{"user empty", widget.SessionParams{UserID: ptr("")}, widget.SessionRequest{}, "userId"},
		{"user too long", widget.SessionParams{UserID: ptr(long + "a")}, widget.SessionRequest{}, "userId"},
		{"user space", widget.SessionParams{UserID: ptr("user alice")}, widget.SessionRequest{}, "userId"},
		{"user tab", widget.SessionParams{UserID: ptr("user\talice")}, widget.SessionRequest{}, "userId"},
		{"user newline", widget.SessionParams{UserID: ptr("alice\n")}, widget.SessionRequest{}, "userId"},
		{"user nul", widget.SessionParams{UserID: ptr("a\x00b")}, widget.SessionRequest{}, "userId"},
		{"user nbsp", widget.SessionParams{UserID: ptr("a\u00a0b")}, widget.SessionRequest{}, "userId"},
		{"user del", widget.SessionParams{UserID: ptr("a\x7fb")}, widget.SessionRequest{}, "userId"},
		{"incident empty", widget.SessionParams{UserID: ptr("u"), IncidentID: ptr("")}, widget.SessionRequest{}, "incidentId"},
		{"incident space", widget.SessionParams{UserID: ptr("u"), IncidentID: ptr("inc 1")}, widget.SessionRequest{}, "incidentId"},
		{"incident too long", widget.SessionParams{UserID: ptr("u"), IncidentID: ptr(long + "x")}, widget.SessionRequest{}, "incidentId"},
		{"ttl zero", widget.SessionParams{UserID: ptr("u"), TTLSeconds: ptr(int64(0))}, widget.SessionRequest{}, "ttlSeconds"},
		{"ttl negative", widget.SessionParams{UserID: ptr("u"), TTLSeconds: ptr(int64(-1))}, widget.SessionRequest{}, "ttlSeconds"},
		{"ttl over max", widget.SessionParams{UserID: ptr("u"), TTLSeconds: ptr(int64(86401))}, widget.SessionRequest{}, "ttlSeconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Validate()
			if tt.wantField == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Validate() = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			var we *widget.Error
			if !errors.As(err, &we) || we.Code != widget.CodeValidation || we.Field != tt.wantField || !strings.HasPrefix(we.Message, tt.wantField+": ") {
				t.Fatalf("Validate() error = %#v; want validation_error on %s with a message naming it", err, tt.wantField)
			}
		})
	}
}
