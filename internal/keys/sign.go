package keys

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"

	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// b64 is the base64url encoding without padding that JWS uses.
var b64 = base64.RawURLEncoding

// signer signs with one key. Its header is encoded once, when the Set is
// built, so minting a token is: encode the payload, sign, encode the
// signature, with one buffer sized up front.
type signer struct {
	kid     string
	alg     string
	header  []byte // base64url of {"alg":...,"kid":...,"typ":"wst+jwt"}
	sigSize int    // bytes of a signature, to size the buffer
	ed      ed25519.PrivateKey
	ec      *ecdsa.PrivateKey
}

// header is the JOSE header of a session token. The field order is the
// wire order; encoding/json keeps it.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// errNoSigner is returned by Sign on a Set that was not built by Load or
// Ephemeral.
var errNoSigner = errors.New("keys: the Set has no signing key")

func newSigner(k *privateKey) (signer, error) {
	// Without HTML escaping, so that the header is the JSON anyone would
	// write by hand, even for a kid with <, > or & in it.
	var h bytes.Buffer
	enc := json.NewEncoder(&h)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header{Alg: k.alg, Kid: k.kid, Typ: token.Type}); err != nil {
		return signer{}, fmt.Errorf("keys: key %q: marshal header: %w", k.kid, err)
	}
	s := signer{
		kid:    k.kid,
		alg:    k.alg,
		header: b64.AppendEncode(nil, bytes.TrimSuffix(h.Bytes(), []byte("\n"))),
		ed:     k.ed,
		ec:     k.ec,
	}
	switch {
	case k.ed != nil:
		s.sigSize = ed25519.SignatureSize
	case k.ec != nil:
		s.sigSize = 64 // JOSE r||s for P-256 (RFC 7518 §3.4), not DER
	default:
		return signer{}, fmt.Errorf("keys: key %q: no private key", k.kid)
	}
	return s, nil
}

// sign returns prefix followed by header.payload.signature, all base64url,
// in one buffer: the prefix (a session token's "wst_<env>_") is not signed.
func (s *signer) sign(prefix string, payload []byte) (string, error) {
	if s.kid == "" { // the zero signer: no key is active
		return "", ErrNoActiveKey
	}
	n := len(prefix) + len(s.header) + 1 + b64.EncodedLen(len(payload)) + 1 + b64.EncodedLen(s.sigSize)
	buf := make([]byte, 0, n)
	buf = append(buf, prefix...)
	buf = append(buf, s.header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	input := buf[len(prefix):]

	var sig []byte
	switch {
	case s.ed != nil:
		// Called directly rather than through jwsbb: ed25519.Sign is
		// written to be inlined, which keeps its signature on our stack.
		sig = ed25519.Sign(s.ed, input)
	case s.ec != nil:
		var err error
		// jwsbb returns the fixed-size r||s that JWS needs, not DER.
		sig, err = jwsbb.SignECDSA(s.ec, input, crypto.SHA256, nil)
		if err != nil {
			return "", fmt.Errorf("keys: sign with key %q: %w", s.kid, err)
		}
	default:
		return "", errNoSigner
	}

	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	// buf is sized exactly and never written again: the token shares its
	// bytes, as strings.Builder's String does, instead of copying them.
	return unsafe.String(unsafe.SliceData(buf), len(buf)), nil
}
