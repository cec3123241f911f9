// Package devidp is a development identity provider: it keeps one Ed25519
// key in a local file and signs caller JWTs with it, so that
// `wsctl dev-token` can print a token the locally running server accepts,
// with no identity provider and no network.
//
// It is for the embedded default only. Anyone who can read the key file can
// mint a caller token for any tenant and role, so the server must never
// trust it in the live environment; the server enforces that, not this
// package.
package devidp

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/causeflow/widget-sessions/internal/callerauth"
	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/widget"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Identity of the development provider. The issuer is under .invalid
// (RFC 2606) so that it can never name a real host.
const (
	Issuer   = "https://dev-idp.widget-sessions.invalid"
	Audience = "widget-sessions"
	// DefaultKeyFile is where the key lives, relative to the working
	// directory; the repository's .gitignore covers .dev/.
	DefaultKeyFile = ".dev/dev-idp.jwks.json"
	// DefaultTTL is the lifetime of a token when TokenRequest.TTL is zero.
	DefaultTTL = time.Hour
)

// IDP signs caller JWTs with its one private key. It is safe for
// concurrent use.
type IDP struct {
	private jwk.Key
	public  jwk.Key
	key     *jwks.Key // public, for Key: the same one on every call
	kid     string
	file    string
	now     func() time.Time
}

// File returns the key file the provider was loaded from.
func (p *IDP) File() string { return p.file }

// TempKeyFile is where the key lives when DefaultKeyFile cannot be
// created: the working directory is read-only, as in a container run with
// a read-only root filesystem (whose /tmp is a tmpfs). The server and
// wsctl dev-token fall back to it alike, so that they share the key.
func TempKeyFile() string {
	return filepath.Join(os.TempDir(), "widget-sessions-dev", "dev-idp.jwks.json")
}

// TokenRequest describes the caller a token speaks for.
type TokenRequest struct {
	Tenant  string
	Subject string
	Roles   []string
	// TTL is the token's lifetime; zero means DefaultTTL.
	TTL time.Duration
}

// LoadOrCreate reads the private JWK Set at path, or, when there is no file
// there yet, creates one with a fresh Ed25519 key (directory 0700, file
// 0600). Processes racing to create it all end up with the one key that
// was written first. An existing file that cannot be used is an error, not
// a reason to overwrite it: replacing the key would silently invalidate
// every token minted with it. When path is DefaultKeyFile and the working
// directory cannot hold it (read-only), TempKeyFile is used instead; a
// path chosen explicitly is never replaced by another.
func LoadOrCreate(path string) (*IDP, error) {
	if path == "" {
		return nil, errors.New("devidp: empty key file path")
	}
	idp, err := load(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return idp, err
	}
	if err := create(path); err != nil {
		if path == DefaultKeyFile && (errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission)) {
			return LoadOrCreate(TempKeyFile())
		}
		return nil, err
	}
	return load(path)
}

func load(path string) (*IDP, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("devidp: %s: not a JWK set: %w", path, err)
	}
	if set.Len() != 1 {
		return nil, fmt.Errorf("devidp: %s: want exactly one key, found %d", path, set.Len())
	}
	private, _ := set.Key(0)
	okp, ok := private.(jwk.OKPPrivateKey)
	if !ok {
		return nil, fmt.Errorf("devidp: %s: the key is not an OKP private key", path)
	}
	if crv, ok := okp.Crv(); !ok || crv != jwa.Ed25519() {
		return nil, fmt.Errorf("devidp: %s: the key is not Ed25519", path)
	}
	kid, ok := private.KeyID()
	if !ok || kid == "" {
		return nil, fmt.Errorf("devidp: %s: the key has no kid", path)
	}
	public, err := private.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("devidp: %s: %w", path, err)
	}
	// Pin the algorithm on the published key so that a verifier never
	// has to infer it from the key type.
	if err := public.Set(jwk.AlgorithmKey, jwa.EdDSA()); err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	var raw ed25519.PublicKey
	if err := jwk.Export(public, &raw); err != nil {
		return nil, fmt.Errorf("devidp: %s: %w", path, err)
	}
	key := &jwks.Key{ID: kid, Alg: jwa.EdDSA().String(), Public: raw}
	return &IDP{private: private, public: public, key: key, kid: kid, file: path, now: time.Now}, nil
}

// create writes a fresh key to path unless a file is already there. The
// key goes to a temporary file first and is then hard-linked into place:
// link, unlike rename, fails when the target exists, so the first writer
// wins, and readers never see a half-written file.
func create(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("devidp: %w", err)
	}
	data, err := newKeySet()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".dev-idp-*.tmp") // created 0600
	if err != nil {
		return fmt.Errorf("devidp: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("devidp: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("devidp: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("devidp: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("devidp: %w", err)
	}
	return nil
}

// newKeySet returns the JSON of a private JWK Set holding one new Ed25519
// key, its kid the key's RFC 7638 thumbprint.
func newKeySet() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devidp: generating key: %w", err)
	}
	key, err := jwk.Import(priv)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	for name, v := range map[string]any{jwk.AlgorithmKey: jwa.EdDSA(), jwk.KeyUsageKey: jwk.ForSignature} {
		if err := key.Set(name, v); err != nil {
			return nil, fmt.Errorf("devidp: %w", err)
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	data, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	return append(data, '\n'), nil
}

// KeyID returns the kid of the provider's key.
func (p *IDP) KeyID() string { return p.kid }

// PublicSet returns the provider's public key as a JWK Set, for serving or
// writing out. Each call returns a new set, so callers may modify it.
func (p *IDP) PublicSet() jwk.Set {
	set := jwk.NewSet()
	if k, err := p.public.Clone(); err == nil {
		_ = set.AddKey(k) // cannot fail on an empty set
	}
	return set
}

// Key returns the provider's public key when kid is its kid, and an error
// wrapping jwks.ErrUnknownKey otherwise, so that an IDP can stand in for a
// *jwks.Cache as a callerauth.KeySource.
func (p *IDP) Key(_ context.Context, kid string) (*jwks.Key, error) {
	if kid != p.kid {
		return nil, jwks.ErrUnknownKey
	}
	return p.key, nil
}

// Token returns an EdDSA-signed caller JWT for r, in the shape
// callerauth's defaults read: iss, aud, sub, tid, roles, iat, nbf, exp
// and jti.
func (p *IDP) Token(r TokenRequest) (string, error) {
	if err := widget.ValidateID("tenant", r.Tenant); err != nil {
		return "", fmt.Errorf("devidp: %w", err)
	}
	if err := widget.ValidateID("subject", r.Subject); err != nil {
		return "", fmt.Errorf("devidp: %w", err)
	}
	if r.TTL < 0 {
		return "", errors.New("devidp: negative TTL")
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	roles := r.Roles
	if roles == nil {
		roles = []string{} // always an array, as callerauth documents
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("devidp: %w", err)
	}
	now := p.now().Truncate(time.Second)
	tok, err := jwt.NewBuilder().
		Issuer(Issuer).
		Audience([]string{Audience}).
		Subject(r.Subject).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(ttl)).
		JwtID(base64.RawURLEncoding.EncodeToString(jti[:])).
		Claim(callerauth.DefaultTenantClaim, r.Tenant).
		Claim(callerauth.DefaultRolesClaim, roles).
		Build()
	if err != nil {
		return "", fmt.Errorf("devidp: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), p.private))
	if err != nil {
		return "", fmt.Errorf("devidp: signing: %w", err)
	}
	return string(signed), nil
}
