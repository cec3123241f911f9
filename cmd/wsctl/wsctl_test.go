package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/causeflow/widget-sessions/internal/devidp"
)

// wsctl runs run with args after the program name and env as the whole
// environment.
func wsctl(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(t.Context(), append([]string{"wsctl"}, args...), func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}

// keyFile is a JWK Set file as keys generate writes it.
type keyFile struct {
	Keys []struct {
		Kid, Kty, Crv, Alg, Use, D string
	}
}

func readKeyFile(t *testing.T, path string) keyFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

func TestKeysGenerate(t *testing.T) {
	t.Parallel()

	t.Run("--out is required", func(t *testing.T) {
		if _, _, err := wsctl(t, nil, "keys", "generate"); err == nil || !strings.Contains(err.Error(), "--out") {
			t.Errorf("err = %v, want one naming --out", err)
		}
	})

	for _, tc := range []struct{ alg, kty, crv string }{
		{"", "OKP", "Ed25519"}, // the default
		{"EdDSA", "OKP", "Ed25519"},
		{"ES256", "EC", "P-256"},
	} {
		name := "alg " + tc.alg
		if tc.alg == "" {
			name = "default alg"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.jwks.json")
			args := []string{"keys", "generate", "--out", path}
			if tc.alg != "" {
				args = append(args, "--alg", tc.alg)
			}
			stdout, stderr, err := wsctl(t, nil, args...)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
			}
			f := readKeyFile(t, path)
			if len(f.Keys) != 1 {
				t.Fatalf("%d keys in the file, want 1", len(f.Keys))
			}
			k := f.Keys[0]
			if stdout != k.Kid+"\n" || k.Kid == "" {
				t.Errorf("stdout = %q, want the kid %q and a newline", stdout, k.Kid)
			}
			if k.Kty != tc.kty || k.Crv != tc.crv || k.Use != "sig" {
				t.Errorf("key kty/crv/use = %s/%s/%s, want %s/%s/sig", k.Kty, k.Crv, k.Use, tc.kty, tc.crv)
			}
			if k.D == "" {
				t.Fatal("the file holds no private key")
			}
			if strings.Contains(stdout, k.D) || strings.Contains(stderr, k.D) {
				t.Error("the private key (d) was printed")
			}

			// A second run adds a key and keeps the first.
			stdout2, _, err := wsctl(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			f2 := readKeyFile(t, path)
			if len(f2.Keys) != 2 || f2.Keys[0] != k || f2.Keys[1].Kid != strings.TrimSpace(stdout2) || f2.Keys[1].Kid == k.Kid {
				t.Errorf("after a second generate: %d keys, kids %q/%q, printed %q", len(f2.Keys), f2.Keys[0].Kid, f2.Keys[1].Kid, stdout2)
			}
		})
	}

	for _, alg := range []string{"RS256", "HS256", "none"} {
		t.Run("alg "+alg+" is refused", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.jwks.json")
			if _, _, err := wsctl(t, nil, "keys", "generate", "--out", path, "--alg", alg); err == nil {
				t.Fatal("err = nil")
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("a refused generate created the file")
			}
		})
	}
}

// payload decodes the claims of a compact JWT without verifying it.
func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestDevToken(t *testing.T) {
	t.Parallel()

	t.Run("repeated --role gives every role", func(t *testing.T) {
		key := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
		stdout, stderr, err := wsctl(t, map[string]string{"WIDGET_DEV_IDP_KEY": key},
			"dev-token", "--tenant", "demo", "--user", "user_alice", "--role", "admin", "--role", "member")
		if err != nil {
			t.Fatalf("%v\nstderr: %s", err, stderr)
		}
		tok := strings.TrimSuffix(stdout, "\n")
		if strings.ContainsAny(tok, " \n") {
			t.Fatalf("stdout is not one token and a newline: %q", stdout)
		}
		claims := payload(t, tok)
		roles, _ := claims["roles"].([]any)
		if !slices.Equal(roles, []any{"admin", "member"}) {
			t.Errorf("roles = %v, want [admin member]", claims["roles"])
		}
		if claims["tid"] != "demo" || claims["sub"] != "user_alice" {
			t.Errorf("tid/sub = %v/%v, want demo/user_alice", claims["tid"], claims["sub"])
		}

		// The token is signed by the key in WIDGET_DEV_IDP_KEY, the file
		// a server started with the same setting trusts.
		idp, err := devidp.LoadOrCreate(key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jwt.Parse([]byte(tok), jwt.WithKeySet(idp.PublicSet()),
			jwt.WithIssuer(devidp.Issuer), jwt.WithAudience(devidp.Audience)); err != nil {
			t.Errorf("the token does not verify with the dev IdP key in WIDGET_DEV_IDP_KEY: %v", err)
		}
		var f keyFile
		if data, err := os.ReadFile(key); err != nil || json.Unmarshal(data, &f) != nil || len(f.Keys) != 1 || f.Keys[0].D == "" {
			t.Fatalf("dev IdP key file unreadable: %v", err)
		}
		if strings.Contains(stdout+stderr, f.Keys[0].D) {
			t.Error("the dev IdP private key (d) was printed")
		}
	})

	t.Run("--key wins over WIDGET_DEV_IDP_KEY", func(t *testing.T) {
		dir := t.TempDir()
		env, flagKey := filepath.Join(dir, "env.jwks.json"), filepath.Join(dir, "flag.jwks.json")
		if _, _, err := wsctl(t, map[string]string{"WIDGET_DEV_IDP_KEY": env},
			"dev-token", "--tenant", "demo", "--user", "u", "--key", flagKey); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(flagKey); err != nil {
			t.Errorf("--key file not created: %v", err)
		}
		if _, err := os.Stat(env); err == nil {
			t.Error("WIDGET_DEV_IDP_KEY was used despite --key")
		}
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"without --tenant", nil, []string{"--user", "user_alice", "--role", "admin"}},
		{"without --user", nil, []string{"--tenant", "demo", "--role", "admin"}},
		{"in live", map[string]string{"WIDGET_ENV": "live"}, []string{"--tenant", "demo", "--user", "user_alice", "--role", "admin"}},
		{"with an unusable tenant id", nil, []string{"--tenant", "de mo", "--user", "user_alice"}},
	} {
		t.Run("fails "+tc.name, func(t *testing.T) {
			key := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
			env := map[string]string{"WIDGET_DEV_IDP_KEY": key}
			for k, v := range tc.env {
				env[k] = v
			}
			stdout, _, err := wsctl(t, env, append([]string{"dev-token"}, tc.args...)...)
			if err == nil {
				t.Fatal("err = nil")
			}
			if stdout != "" {
				t.Errorf("a failed dev-token printed %q", stdout)
			}
			if tc.env["WIDGET_ENV"] == "live" {
				if _, err := os.Stat(key); err == nil {
					t.Error("dev-token in live created a dev IdP key")
				}
			}
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"frobnicate"}, {"keys"}, {"keys", "rotate"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, err := wsctl(t, nil, args...)
			if err == nil {
				t.Fatal("err = nil")
			}
			if !strings.Contains(stderr, "usage: wsctl") {
				t.Errorf("stderr lacks the usage: %q", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
	if _, _, err := wsctl(t, nil, "frobnicate"); err == nil || !strings.Contains(err.Error(), `"frobnicate"`) {
		t.Errorf("err = %v, want one naming the unknown command", err)
	}
	stdout, _, err := wsctl(t, nil, "help")
	if err != nil || !strings.Contains(stdout, "usage: wsctl") {
		t.Errorf("help: %v, stdout %q", err, stdout)
	}
}
