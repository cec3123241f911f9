package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// wsctlStdin is wsctl with stdin.
func wsctlStdin(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), append([]string{"wsctl"}, args...), func(string) string { return "" }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// signedToken signs a session token's claims with a fresh key, as the
// service would, and returns it with that key's public JWKS in a file.
func signedToken(t *testing.T, env string, exp time.Time) (tok, kid, jwksFile string) {
	t.Helper()
	set, err := keys.Ephemeral()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	payload, err := json.Marshal(token.Claims{
		Issuer: "https://sessions.causeflow.test", Audience: "causeflow-widget", Subject: "user_alice", Tenant: "demo",
		SessionID: "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G", ID: "wsess_2pTqyZ5cMlBfKqv0w1j1aF7Xh3G",
		IssuedAt: now.Add(-time.Hour).Unix(), NotBefore: now.Add(-time.Hour).Unix(), Expiry: exp.Unix(), Scope: token.Scope,
	})
	if err != nil {
		t.Fatal(err)
	}
	compact, err := set.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := set.JWKS()
	jwksFile = filepath.Join(t.TempDir(), set.ActiveKID()+".jwks.json")
	if err := os.WriteFile(jwksFile, body, 0o600); err != nil {
		t.Fatal(err)
	}
	return token.Wrap(env, compact), set.ActiveKID(), jwksFile
}

func TestInspect(t *testing.T) {
	t.Parallel()
	tok, kid, jwks := signedToken(t, token.EnvTest, time.Now().Add(time.Hour))
	_, _, otherJWKS := signedToken(t, token.EnvTest, time.Now().Add(time.Hour))
	liveTok, _, _ := signedToken(t, token.EnvLive, time.Now().Add(-time.Minute))
	jwksBody, err := os.ReadFile(jwks)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/jwks.json" {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(jwksBody)
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  []string // substrings of stdout
		not   []string // not in stdout
	}{
		{"token argument", "", []string{tok}, []string{"environment: test", `"kid": "` + kid + `"`, `"typ": "wst+jwt"`, `"alg": "EdDSA"`,
			`"sub": "user_alice"`, `"tid": "demo"`, "expires: ", "(in "}, []string{"signature:"}},
		{"stdin", tok + "\n", []string{"-"}, []string{"environment: test", `"sub": "user_alice"`}, nil},
		{"--jwks file after the token", "", []string{tok, "--jwks", jwks}, []string{"signature: valid"}, []string{"INVALID"}},
		{"--jwks file before the token", "", []string{"--jwks", jwks, tok}, []string{"signature: valid"}, nil},
		{"--jwks URL, token on stdin", tok, []string{"-", "--jwks", srv.URL + "/.well-known/jwks.json"}, []string{"signature: valid"}, nil},
		{"live and expired", "", []string{liveTok}, []string{"environment: live", "expired "}, nil},
		{"a bare JWS", "", []string{strings.TrimPrefix(tok, "wst_test_")}, []string{"environment: (none", `"sub": "user_alice"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := wsctlStdin(t, tc.stdin, append([]string{"inspect"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(stdout, n) {
					t.Errorf("stdout has %q:\n%s", n, stdout)
				}
			}
		})
	}

	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	_, claims, _ := strings.Cut(strings.TrimPrefix(tok, "wst_test_"), ".")
	claims, _, _ = strings.Cut(claims, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(claims)
	tampered := strings.Replace(tok, claims, base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte("user_alice"), []byte("user_mallory"), 1)), 1)
	notJWKS := filepath.Join(t.TempDir(), "not.jwks.json")
	if err := os.WriteFile(notJWKS, []byte(`{"keys": "none"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
		wantOut string
	}{
		{"another key's JWKS", "", []string{tok, "--jwks", otherJWKS}, "does not verify", "signature: INVALID"},
		{"tampered claims", "", []string{tampered, "--jwks", jwks}, "does not verify", "signature: INVALID"},
		{"JWKS URL failing", "", []string{tok, "--jwks", srv.URL + "/nope"}, "500", ""},
		{"JWKS file missing", "", []string{tok, "--jwks", filepath.Join(t.TempDir(), "none.json")}, "none.json", ""},
		{"JWKS not a JWK Set", "", []string{tok, "--jwks", notJWKS}, "JWKS", ""},
		{"not a JWS", "", []string{"wst_test_garbage"}, "three", ""},
		{"four parts", "", []string{"a.b.c.d"}, "three", ""},
		{"a stray argument before --jwks", "", []string{tok, "extra", "--jwks", otherJWKS}, "unexpected argument", ""},
		{"header not base64url", "", []string{"wst_test_!!!.e30." + sig}, "header", ""},
		{"claims not JSON", "", []string{"wst_test_e30.bm90IGpzb24." + sig}, "claims", ""},
		{"empty stdin", "", []string{"-"}, "three", ""},
		{"no token", "", nil, "usage", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := wsctlStdin(t, tc.stdin, append([]string{"inspect"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if tc.wantOut != "" && !strings.Contains(stdout, tc.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantOut, stdout)
			}
			if strings.Contains(stdout, "signature: valid") {
				t.Errorf("a failed inspect says the signature is valid:\n%s", stdout)
			}
		})
	}
}

func TestDevTokenOpsAndService(t *testing.T) {
	t.Parallel()
	for _, role := range []string{"ops", "service"} {
		t.Run(role, func(t *testing.T) {
			key := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
			stdout, stderr, err := wsctl(t, map[string]string{"WIDGET_DEV_IDP_KEY": key},
				"dev-token", "--tenant", "causeflow", "--user", "gateway", "--role", role)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			claims := payload(t, strings.TrimSpace(stdout))
			if roles, _ := claims["roles"].([]any); !slices.Equal(roles, []any{role}) {
				t.Errorf("roles = %v, want [%s]", claims["roles"], role)
			}
		})
	}
}
