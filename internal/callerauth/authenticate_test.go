package callerauth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/pkg/widget"
	"github.com/lestrrat-go/jwx/v3/cert"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	pubPEM, err := x509.MarshalPKIXPublicKey(f.rsa.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubPEM})
	edPub, _ := jwk.Import(f.ed.Public())
	var chain cert.Chain
	if err := chain.AddString(base64.StdEncoding.EncodeToString(selfSignedCert(t, f.ed))); err != nil {
		t.Fatal(err)
	}
	kid := func(k string) map[string]any { return map[string]any{"kid": k} }
	okPayload := `{"iss":"` + issuer + `","aud":"` + audience + `","sub":"user_alice","tid":"acme","exp":` +
		"1906632000" + `}`

	tests := []struct {
		name       string
		header     func(t *testing.T) string // the Authorization header value
		algs       []string                  // allow-list; nil for the default
		wantCaller widget.Caller
		wantCode   string
		wantErr    error
	}{
		{
			name:       "valid RS256",
			header:     func(t *testing.T) string { return "Bearer " + sign(t, jwa.RS256(), f.rsa, kid("rsa-1"), f.claims()) },
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin", "member"}},
		},
		{
			name:       "valid ES256",
			header:     func(t *testing.T) string { return "Bearer " + sign(t, jwa.ES256(), f.ec, kid("ec-1"), f.claims()) },
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin", "member"}},
		},
		{
			name:       "valid EdDSA, lower-case scheme",
			header:     func(t *testing.T) string { return "bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), f.claims()) },
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin", "member"}},
		},
		{
			name: "roles as a single string",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "roles", "admin"))
			},
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin"}},
		},
		{
			name: "roles absent",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), without(f.claims(), "roles"))
			},
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme"},
		},
		{
			name: "aud as a single string",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "aud", audience))
			},
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin", "member"}},
		},
		{
			name: "expired within leeway",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "exp", f.now.Add(-10*time.Second)))
			},
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin", "member"}},
		},
		{
			name: "nbf in the future within leeway",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "nbf", f.now.Add(10*time.Second)))
			},
			wantCaller: widget.Caller{Subject: "user_alice", Tenant: "acme", Roles: []string{"admin", "member"}},
		},

		// The header value.
		{name: "missing header", header: func(t *testing.T) string { return "" }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrNoCredentials},
		{name: "wrong scheme", header: func(t *testing.T) string { return "Basic dXNlcjpwYXNz" }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrNoCredentials},
		{name: "scheme only", header: func(t *testing.T) string { return "Bearer" }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrNoCredentials},
		{name: "empty token", header: func(t *testing.T) string { return "Bearer " }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrNoCredentials},
		{
			name:     "two spaces",
			header:   func(t *testing.T) string { return "Bearer  " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), f.claims()) },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMalformed,
		},
		{
			name: "trailing garbage",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), f.claims()) + " x"
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMalformed,
		},
		{name: "garbage", header: func(t *testing.T) string { return "Bearer not-a-jwt" }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMalformed},
		{name: "garbage in three parts", header: func(t *testing.T) string { return "Bearer aaaa.bbbb.cccc" }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMalformed},
		{name: "oversized", header: func(t *testing.T) string { return "Bearer " + strings.Repeat("a", 20000) }, wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMalformed},

		// The algorithm and the key.
		{
			name:     "alg none",
			header:   func(t *testing.T) string { return "Bearer " + unsigned(`{"alg":"none","kid":"ed-1"}`, okPayload, "") },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMalformed,
		},
		{
			name: "alg none with a signature part",
			header: func(t *testing.T) string {
				return "Bearer " + unsigned(`{"alg":"none","kid":"ed-1"}`, okPayload, "c2ln")
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrAlgorithm,
		},
		{
			name: "HS256 signed with the RSA public key (alg confusion)",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.HS256(), pubPEM, kid("rsa-1"), f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrAlgorithm,
		},
		{
			name:     "alg does not fit the key type",
			header:   func(t *testing.T) string { return "Bearer " + sign(t, jwa.ES256(), f.ec, kid("rsa-1"), f.claims()) },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrAlgorithm,
		},
		{
			name: "alg differs from the key's pinned alg",
			algs: []string{"RS256", "RS512"},
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.RS512(), f.rsa, kid("rsa-pinned"), f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrAlgorithm,
		},
		{
			name:     "alg allowed by jwx but not by the allow-list",
			header:   func(t *testing.T) string { return "Bearer " + sign(t, jwa.PS256(), f.rsa, kid("rsa-1"), f.claims()) },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrAlgorithm,
		},
		{
			name:     "unknown kid",
			header:   func(t *testing.T) string { return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-9"), f.claims()) },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrUnknownKey,
		},
		{
			name:     "kid missing",
			header:   func(t *testing.T) string { return "Bearer " + sign(t, jwa.EdDSA(), f.ed, nil, f.claims()) },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrHeader,
		},
		{
			name:     "bad signature",
			header:   func(t *testing.T) string { return "Bearer " + sign(t, jwa.EdDSA(), f.other, kid("ed-1"), f.claims()) },
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrSignature,
		},
		{
			name: "payload swapped after signing",
			header: func(t *testing.T) string {
				good := strings.Split(sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), f.claims()), ".")
				evil := strings.Split(sign(t, jwa.EdDSA(), f.other, kid("ed-1"), with(f.claims(), "tid", "victim")), ".")
				return "Bearer " + good[0] + "." + evil[1] + "." + good[2]
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrSignature,
		},
		{
			name: "jku header",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1", "jku": "https://evil.example/jwks.json"}, f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrHeader,
		},
		{
			name: "x5u header",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1", "x5u": "https://evil.example/cert.pem"}, f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrHeader,
		},
		{
			name: "x5c header",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1", "x5c": &chain}, f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrHeader,
		},
		{
			name: "embedded jwk header",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1", "jwk": edPub}, f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrHeader,
		},
		{
			name: "crit header",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, map[string]any{"kid": "ed-1", "crit": []string{"exp-ext"}, "exp-ext": true}, f.claims())
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrHeader,
		},

		// The claims.
		{
			name: "expired",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "exp", f.now.Add(-time.Hour)))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrExpired,
		},
		{
			name: "exp missing",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), without(f.claims(), "exp"))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMissingClaim,
		},
		{
			name: "nbf in the future beyond leeway",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "nbf", f.now.Add(5*time.Minute)))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrNotYetValid,
		},
		{
			name: "iat in the future beyond leeway",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "iat", f.now.Add(5*time.Minute)))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrNotYetValid,
		},
		{
			name: "wrong iss",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "iss", "https://evil.example/"))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrIssuer,
		},
		{
			name: "wrong aud",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "aud", []string{"other-api"}))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrAudience,
		},
		{
			name: "sub missing",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), without(f.claims(), "sub"))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMissingClaim,
		},
		{
			name: "tenant missing",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), without(f.claims(), "tid"))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrMissingClaim,
		},
		{
			name: "tenant empty",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "tid", ""))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrInvalidClaim,
		},
		{
			name: "tenant not a string",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "tid", 42))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrInvalidClaim,
		},
		{
			name: "roles with a non-string",
			header: func(t *testing.T) string {
				return "Bearer " + sign(t, jwa.EdDSA(), f.ed, kid("ed-1"), with(f.claims(), "roles", []any{"admin", 7}))
			},
			wantCode: widget.CodeUnauthorized, wantErr: callerauth.ErrInvalidClaim,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authenticator(t, f.source(), tt.algs...)
			header := tt.header(t)
			caller, err := a.Authenticate(context.Background(), header)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if caller.Subject != tt.wantCaller.Subject || caller.Tenant != tt.wantCaller.Tenant || !slices.Equal(caller.Roles, tt.wantCaller.Roles) {
					t.Fatalf("caller = %+v, want %+v", caller, tt.wantCaller)
				}
				return
			}
			assertError(t, err, tt.wantCode, tt.wantErr, header)
		})
	}
}
