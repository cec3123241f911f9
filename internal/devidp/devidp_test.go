package devidp_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/internal/devidp"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/widget"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestCreateThenLoadSameKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".dev", "dev-idp.jwks.json")
	created, err := devidp.LoadOrCreate(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	loaded, err := devidp.LoadOrCreate(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if created.KeyID() == "" || created.KeyID() != loaded.KeyID() {
		t.Fatalf("kid after create %q, after load %q", created.KeyID(), loaded.KeyID())
	}
	a, _ := created.PublicSet().Key(0)
	b, _ := loaded.PublicSet().Key(0)
	if !jwk.Equal(a, b) {
		t.Fatal("public keys differ between create and load")
	}

	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Fatalf("key file mode %o, want 600", perm)
		}
		di, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if perm := di.Mode().Perm(); perm != 0o700 {
			t.Fatalf("key dir mode %o, want 700", perm)
		}
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("key dir holds %d entries, want just the key file", len(entries))
	}
}

func TestConcurrentCreateAgreesOnOneKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
	const n = 16
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idp, err := devidp.LoadOrCreate(path)
			if err != nil {
				errs[i] = err
				return
			}
			kids[i] = idp.KeyID()
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate #%d: %v", i, errs[i])
		}
		if kids[i] != kids[0] {
			t.Fatalf("racing creators got different keys: %q and %q", kids[0], kids[i])
		}
	}
}

func TestUnusableFileIsNotOverwritten(t *testing.T) {
	tests := map[string]string{
		"garbage":   "not json",
		"empty set": `{"keys":[]}`,
		"public key only": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",` +
			`"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := devidp.LoadOrCreate(path); err == nil {
				t.Fatal("LoadOrCreate accepted an unusable key file")
			}
			got, _ := os.ReadFile(path)
			if string(got) != content {
				t.Fatal("LoadOrCreate overwrote an existing key file")
			}
		})
	}
}

func TestTokenAuthenticates(t *testing.T) {
	idp, err := devidp.LoadOrCreate(filepath.Join(t.TempDir(), "dev-idp.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := callerauth.New(callerauth.Config{Issuer: devidp.Issuer, Audience: devidp.Audience}, idp)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  devidp.TokenRequest
		want widget.Caller
	}{
		{
			name: "admin",
			req:  devidp.TokenRequest{Tenant: "demo", Subject: "user_alice", Roles: []string{widget.RoleAdmin}},
			want: widget.Caller{Subject: "user_alice", Tenant: "demo", Roles: []string{widget.RoleAdmin}},
		},
		{
			name: "no roles, explicit TTL",
			req:  devidp.TokenRequest{Tenant: "demo", Subject: "user_bob", TTL: 5 * time.Minute},
			want: widget.Caller{Subject: "user_bob", Tenant: "demo", Roles: []string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := idp.Token(tt.req)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			caller, err := auth.Authenticate(context.Background(), "Bearer "+token)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if caller.Subject != tt.want.Subject || caller.Tenant != tt.want.Tenant || !slices.Equal(caller.Roles, tt.want.Roles) {
				t.Fatalf("caller = %+v, want %+v", caller, tt.want)
			}
		})
	}
}

func TestTokenExpiresAfterTTL(t *testing.T) {
	idp, err := devidp.LoadOrCreate(filepath.Join(t.TempDir(), "dev-idp.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := idp.Token(devidp.TokenRequest{Tenant: "demo", Subject: "user_alice", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	later := func() time.Time { return time.Now().Add(2 * time.Minute) }
	auth, err := callerauth.New(callerauth.Config{Issuer: devidp.Issuer, Audience: devidp.Audience, Now: later}, idp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(context.Background(), "Bearer "+token); !errors.Is(err, callerauth.ErrExpired) {
		t.Fatalf("Authenticate two minutes into a one-minute token = %v, want ErrExpired", err)
	}
}

func TestTokenRequestValidation(t *testing.T) {
	idp, err := devidp.LoadOrCreate(filepath.Join(t.TempDir(), "dev-idp.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, req := range map[string]devidp.TokenRequest{
		"no tenant":        {Subject: "user_alice"},
		"no subject":       {Tenant: "demo"},
		"space in subject": {Tenant: "demo", Subject: "user alice"},
		"negative TTL":     {Tenant: "demo", Subject: "user_alice", TTL: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := idp.Token(req); err == nil {
				t.Fatal("Token accepted an invalid request")
			}
		})
	}
}

func TestKeySource(t *testing.T) {
	idp, err := devidp.LoadOrCreate(filepath.Join(t.TempDir(), "dev-idp.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := idp.Key(context.Background(), idp.KeyID())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Public.(ed25519.PublicKey); !ok || k.ID != idp.KeyID() || k.Alg != "EdDSA" {
		t.Fatalf("Key = %+v; want the public Ed25519 key, its kid and EdDSA", k)
	}
	if _, err := idp.Key(context.Background(), "other"); !errors.Is(err, jwks.ErrUnknownKey) {
		t.Fatalf("Key(other) = %v, want ErrUnknownKey", err)
	}
	set := idp.PublicSet()
	if set.Len() != 1 {
		t.Fatalf("PublicSet has %d keys, want 1", set.Len())
	}
	pk, _ := set.Key(0)
	if priv, _ := jwk.IsPrivateKey(pk); priv {
		t.Fatal("PublicSet holds a private key")
	}
}

func TestKeyFileServesAsJWKSSource(t *testing.T) {
	// The private key file doubles as a jwks file source: the cache keeps
	// only the public half. This is how a server could verify dev tokens
	// through the same code path as a real provider's.
	path := filepath.Join(t.TempDir(), "dev-idp.jwks.json")
	idp, err := devidp.LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := jwks.New(path, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := callerauth.New(callerauth.Config{Issuer: devidp.Issuer, Audience: devidp.Audience}, cache)
	if err != nil {
		t.Fatal(err)
	}
	token, err := idp.Token(devidp.TokenRequest{Tenant: "demo", Subject: "user_alice", Roles: []string{"member"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(context.Background(), "Bearer "+token); err != nil {
		t.Fatalf("Authenticate through a jwks file cache: %v", err)
	}
}
