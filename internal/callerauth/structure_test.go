package callerauth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// signRaw signs exactly header and payload (JSON texts, byte for byte) with
// key: what an identity provider, or an attacker holding one tenant's
// provider key, could put in a token.
func signRaw(key ed25519.PrivateKey, header, payload string) string {
	input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input)))
}

// TestStrictStructure: tokens that carry a valid signature of the
// provider's key but an ambiguous or nested structure are refused; the
// same claims in the one accepted shape pass, so each refusal is the
// structure's doing.
func TestStrictStructure(t *testing.T) {
	f := newFixture(t)
	claims, err := json.Marshal(f.claims())
	if err != nil {
		t.Fatal(err)
	}
	payload := string(claims)
	inner := signRaw(f.ed, `{"alg":"EdDSA","kid":"ed-1"}`, payload)
	tests := []struct {
		name            string
		header, payload string
		typ             string // Config.Typ
		wantErr         error  // nil: accepted
	}{
		{"the accepted shape", `{"alg":"EdDSA","kid":"ed-1"}`, payload, "", nil},
		{"duplicate alg", `{"alg":"EdDSA","kid":"ed-1","alg":"EdDSA"}`, payload, "", callerauth.ErrMalformed},
		{"duplicate kid", `{"alg":"EdDSA","kid":"ed-9","kid":"ed-1"}`, payload, "", callerauth.ErrMalformed},
		{"nested JWT (cty)", `{"alg":"EdDSA","kid":"ed-1","cty":"JWT"}`, inner, "", callerauth.ErrHeader},
		{"nested JWS without cty", `{"alg":"EdDSA","kid":"ed-1"}`, inner, "", callerauth.ErrMalformed},
		{"payload a JSON string", `{"alg":"EdDSA","kid":"ed-1"}`, `"` + inner + `"`, "", callerauth.ErrMalformed},
		{"payload an array", `{"alg":"EdDSA","kid":"ed-1"}`, `[` + payload + `]`, "", callerauth.ErrMalformed},
		{"payload with a duplicate claim", `{"alg":"EdDSA","kid":"ed-1"}`, payload[:len(payload)-1] + `,"tid":"other"}`, "", callerauth.ErrMalformed},
		{"payload with data after it", `{"alg":"EdDSA","kid":"ed-1"}`, payload + `{}`, "", callerauth.ErrMalformed},
		{"payload not UTF-8", `{"alg":"EdDSA","kid":"ed-1"}`, payload[:len(payload)-1] + `,"x":"` + "\xff" + `"}`, "", callerauth.ErrMalformed},
		{"typ required, absent", `{"alg":"EdDSA","kid":"ed-1"}`, payload, "at+jwt", callerauth.ErrHeader},
		{"typ required, another", `{"alg":"EdDSA","kid":"ed-1","typ":"JWT"}`, payload, "at+jwt", callerauth.ErrHeader},
		{"typ required, not a string", `{"alg":"EdDSA","kid":"ed-1","typ":1}`, payload, "at+jwt", callerauth.ErrHeader},
		{"typ required, given", `{"alg":"EdDSA","kid":"ed-1","typ":"at+jwt"}`, payload, "at+jwt", nil},
		{"typ required, full media type in another case", `{"alg":"EdDSA","kid":"ed-1","typ":"Application/AT+JWT"}`, payload, "at+jwt", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := callerauth.New(callerauth.Config{
				Issuer: issuer, Audience: audience, Typ: tt.typ, CacheTTL: -1,
				Now: func() time.Time { return f.now },
			}, f.source())
			if err != nil {
				t.Fatal(err)
			}
			header := "Bearer " + signRaw(f.ed, tt.header, tt.payload)
			caller, err := a.Authenticate(context.Background(), header)
			if tt.wantErr == nil {
				if err != nil || caller.Tenant != "acme" {
					t.Fatalf("Authenticate = %+v, %v; want the caller", caller, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || widget.ErrorCode(err) != widget.CodeUnauthorized {
				t.Fatalf("Authenticate = %+v, %v; want 401 wrapping %v", caller, err, tt.wantErr)
			}
			if msg := fmt.Sprint(err); len(msg) > 200 {
				t.Errorf("error too long, may quote the token: %s", msg)
			}
		})
	}
}
