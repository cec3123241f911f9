package jwks

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// Key is one public signing key of a JWK Set (RFC 7517), decoded by this
// package with the standard library alone: no JOSE library comes with it.
type Key struct {
	// ID is the key's "kid", never empty in a key this package returns.
	ID string
	// Alg is the key's "alg" member, "" when the set does not say. A
	// verifier must refuse a token whose alg differs from a stated one.
	Alg string
	// Public is the key: ed25519.PublicKey (kty OKP, crv Ed25519),
	// *ecdsa.PublicKey (kty EC, crv P-256, P-384 or P-521, its point
	// checked to be on the curve) or *rsa.PublicKey (kty RSA).
	Public crypto.PublicKey
}

// Parse decodes a JWK Set and returns the keys a
// verifier can use: signing keys with a kid, in public form, in the order
// of the set. Entries it cannot decode, without a kid, meant for
// encryption ("use" other than "sig") or of a kind it does not know are
// skipped, so that one exotic key in a provider's set does not take the
// others down. Private members ("d", or a symmetric "oct" key) are
// dropped: Parse returns public halves only. At least one usable key is
// required.
//
// A repeated kid (RFC 7517 §4.5 allows repeats) is decided by the first
// entry that names it, read leniently: any member called "kid" in any
// case, in an entry this package cannot decode too. If that entry is not a
// usable key, neither is the kid: a later entry is not taken in its place,
// for a more lenient reader (jwx, or one on encoding/json, whose names are
// case-insensitive and whose repeated members pass) would find the first,
// and two readers of one set would verify the same kid with different
// keys. For the same reason an entry is not used when a reader matching
// names case-insensitively could read it differently (ambiguous).
func Parse(body []byte) ([]*Key, error) {
	return parse(body, false)
}

var errPrivate = errors.New("holds private key material")

// jwkMembers is a JWK's members by name, as raw JSON: names are matched
// exactly (JWK member names are case-sensitive, encoding/json's struct
// fields are not), and a member of the wrong type skips its key, not the
// set.
type jwkMembers map[string]json.RawMessage

// parse decodes body; remote refuses a set holding any private material
// (a provider that publishes its private keys has lost them).
func parse(body []byte, remote bool) ([]*Key, error) {
	doc, err := object(body)
	if err != nil {
		return nil, fmt.Errorf("not a JWK set: %w", err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(doc["keys"], &entries); err != nil || entries == nil {
		return nil, errors.New(`not a JWK set: no "keys" array`)
	}
	var keys []*Key
	named := make(map[string]bool, len(entries)) // the kids earlier entries name
	for i, raw := range entries {
		kids := namedKids(raw)
		m, err := object(raw)
		if err == nil {
			kty, _ := str(m["kty"])
			private := kty == "oct" || (m.named("d") && (kty == "OKP" || kty == "EC" || kty == "RSA"))
			if private && remote {
				return nil, fmt.Errorf("key #%d %w", i, errPrivate)
			}
			if k, ok := m.key(kty); ok && !named[k.ID] && !m.ambiguous() {
				keys = append(keys, k)
			}
		}
		for _, id := range kids {
			named[id] = true
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing key with a kid")
	}
	return keys, nil
}

// key decodes the public key of m, reporting whether it is a usable
// signing key.
// signatureAlgs are the asymmetric JWS algorithms (RFC 7518 §3.1, RFC
// 8037, RFC 9864) a key's "alg" may name.
var signatureAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "Ed25519": true,
}

// object decodes a JSON object into its members, refusing one that names
// a member twice (RFC 7517 §4 and RFC 8259 §4: names are unique), which
// readers would otherwise resolve differently.
func object(raw []byte) (jwkMembers, error) {
	m := jwkMembers{}
	err := eachMember(raw, func(name string, v json.RawMessage) error {
		if _, dup := m[name]; dup {
			return fmt.Errorf("member %q appears twice", name)
		}
		m[name] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// namedKids returns the kids an entry of a set could be read to name: the
// string value of every member called "kid" in any case, repeats included,
// as far as the entry is a JSON object.
func namedKids(raw []byte) []string {
	var kids []string
	_ = eachMember(raw, func(name string, v json.RawMessage) error {
		if id, ok := str(v); ok && fold(name) == "kid" {
			kids = append(kids, id)
		}
		return nil
	})
	return kids
}

// eachMember calls visit with each member of the JSON object raw, in
// order, stopping at visit's first error; it fails on what is not one JSON
// object.
func eachMember(raw []byte, visit func(name string, v json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name := t.(string) // inside an object, the decoder yields names as strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if err := visit(name, v); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}

// readMembers are the members an entry is read by, here and in
// privatePartFits.
var readMembers = map[string]bool{"kty": true, "kid": true, "alg": true, "use": true, "crv": true, "x": true, "y": true, "n": true, "e": true, "d": true}

// ambiguous reports whether a reader matching member names
// case-insensitively (encoding/json does, and so does jwx's first look at
// an entry) could read m otherwise than this package: two names equal but
// for case, or a name equal but for case to one this package reads ("D"
// would be a private key to such a reader, "Kid" a second kid).
func (m jwkMembers) ambiguous() bool {
	folded := make(map[string]bool, len(m))
	for name := range m {
		f := fold(name)
		if folded[f] || (f != name && readMembers[f]) {
			return true
		}
		folded[f] = true
	}
	return false
}

// named reports whether m has a member called name in any case.
func (m jwkMembers) named(name string) bool {
	for n := range m {
		if fold(n) == name {
			return true
		}
	}
	return false
}

// fold is name with its case folded, as a case-insensitive reader compares
// it (the Kelvin sign to k, the long s to s).
func fold(name string) string { return strings.ToLower(strings.ToUpper(name)) }

func (m jwkMembers) key(kty string) (*Key, bool) {
	kid, ok := str(m["kid"])
	if !ok || kid == "" {
		return nil, false
	}
	alg, ok := optionalStr(m["alg"])
	if !ok || (m["alg"] != nil && !signatureAlgs[alg]) {
		return nil, false // a stated alg must be one a signature can have
	}
	if use, ok := optionalStr(m["use"]); !ok || (use != "" && use != "sig") {
		return nil, false
	}
	var pub crypto.PublicKey
	switch kty {
	case "OKP":
		pub, ok = m.okp()
	case "EC":
		pub, ok = m.ec()
	case "RSA":
		pub, ok = m.rsa()
	default:
		return nil, false // "oct", and kinds this package does not know
	}
	if !ok || !m.privatePartFits(pub) {
		return nil, false
	}
	return &Key{ID: kid, Alg: alg, Public: pub}, true
}

// privatePartFits reports whether m's "d", if it has one, is a private key
// of the right size for pub (and, for Ed25519, pub's own): a private key
// that does not decode is no key at all, and its public half is not to be
// trusted either.
func (m jwkMembers) privatePartFits(pub crypto.PublicKey) bool {
	raw, private := m["d"]
	if !private {
		return true
	}
	d, ok := b64(raw)
	if !ok || len(d) == 0 {
		return false
	}
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return len(d) == ed25519.SeedSize && pub.Equal(ed25519.NewKeyFromSeed(d).Public())
	case *ecdsa.PublicKey:
		priv, err := ecdsa.ParseRawPrivateKey(pub.Curve, d)
		return err == nil && priv.PublicKey.Equal(pub)
	}
	return true // RSA: d alone cannot be checked against n and e
}

func (m jwkMembers) okp() (crypto.PublicKey, bool) {
	if crv, _ := str(m["crv"]); crv != "Ed25519" {
		return nil, false // X25519 and X448 are for key agreement; Ed448 is not in crypto/
	}
	x, ok := b64(m["x"])
	if !ok || len(x) != ed25519.PublicKeySize {
		return nil, false
	}
	return ed25519.PublicKey(x), true
}

func (m jwkMembers) ec() (crypto.PublicKey, bool) {
	crv, _ := str(m["crv"])
	var curve elliptic.Curve
	switch crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, false
	}
	size := (curve.Params().BitSize + 7) / 8
	x, okX := b64(m["x"])
	y, okY := b64(m["y"])
	// RFC 7518 §6.2.1.2: the coordinates are the full size of the field,
	// leading zeros included.
	if !okX || !okY || len(x) != size || len(y) != size {
		return nil, false
	}
	point := make([]byte, 0, 1+2*size)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point) // checks the point is on the curve
	if err != nil {
		return nil, false
	}
	return pub, true
}

func (m jwkMembers) rsa() (crypto.PublicKey, bool) {
	n, okN := b64(m["n"])
	e, okE := b64(m["e"])
	if !okN || !okE || len(n) == 0 || n[0] == 0 || len(e) == 0 || len(e) > 4 || e[0] == 0 {
		return nil, false // RFC 7518 §6.3.1: minimal big-endian, no leading zeros
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	if exp < 3 || exp%2 == 0 {
		return nil, false
	}
	modulus := new(big.Int).SetBytes(n)
	if modulus.BitLen() < minRSABits || modulus.Bit(0) == 0 {
		return nil, false // too short to sign with, or not a product of odd primes
	}
	return &rsa.PublicKey{N: modulus, E: exp}, true
}

// minRSABits is the shortest RSA modulus accepted (RFC 7518 §3.3 asks
// for 2048 bits at least).
const minRSABits = 2048

// str reads a JSON string member; absent or of another type is not ok.
func str(raw json.RawMessage) (string, bool) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return "", false // encoding/json reads null into a string as ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// optionalStr reads a member that may be absent ("", true) but, when
// present, must be a string.
func optionalStr(raw json.RawMessage) (string, bool) {
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		return "", raw == nil
	}
	return str(raw)
}

// b64 reads a base64url member without padding (RFC 7515 §2).
func b64(raw json.RawMessage) ([]byte, bool) {
	s, ok := str(raw)
	if !ok {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// MarshalJSON writes k as a public JWK: kty, crv and its public
// parameters, kid, "use":"sig", and alg when k has one. It is how tests
// and tools publish keys without a JOSE library.
func (k *Key) MarshalJSON() ([]byte, error) {
	enc := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.ID, "use": "sig"}
	if k.Alg != "" {
		m["alg"] = k.Alg
	}
	switch pub := k.Public.(type) {
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", enc(pub)
	case *ecdsa.PublicKey:
		raw, err := pub.Bytes()
		if err != nil {
			return nil, fmt.Errorf("jwks: key %q: %w", k.ID, err)
		}
		size := (len(raw) - 1) / 2
		m["kty"], m["crv"], m["x"], m["y"] = "EC", pub.Curve.Params().Name, enc(raw[1:1+size]), enc(raw[1+size:])
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", enc(pub.N.Bytes()), enc(big.NewInt(int64(pub.E)).Bytes())
	default:
		return nil, fmt.Errorf("jwks: key %q: unsupported key type %T", k.ID, k.Public)
	}
	return json.Marshal(m)
}
