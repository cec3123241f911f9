package verify

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/causeflow/widget-sessions/pkg/token"
)

const (
	// maxHeaderLen bounds the header segment. Ours is about 90
	// characters; a kilobyte leaves room for a long kid and nothing
	// that would make parsing a junk header costly.
	maxHeaderLen = 1024
	// maxKIDLen bounds the kid, which is handed to the key source.
	maxKIDLen = 256
	// maxCachedHeaders bounds the header cache. A signer emits one
	// header per key, so a handful of rotations fit; when the cache is
	// full it starts over rather than track usage.
	maxCachedHeaders = 32
)

// header is what the verifier needs from a JOSE header once it has been
// checked: which key, and which algorithm the token claims.
type header struct {
	kid string
	alg string
}

// parseHeader decodes and checks a header segment. It is the slow path,
// taken only for a header segment not seen on a valid token before.
//
// It reads the JSON token by token rather than into a map so that a
// duplicate parameter is refused: two "alg" members are read differently
// by different parsers, and a header that means two things is not ours.
func parseHeader(seg string) (header, error) {
	if len(seg) > maxHeaderLen {
		return header{}, errHeaderJSON
	}
	var buf [maxHeaderLen]byte
	n, err := b64.Decode(buf[:], []byte(seg))
	if err != nil {
		return header{}, errHeaderB64
	}
	// The object and nothing around it: jwx (which other services verify
	// with) refuses a header with whitespace outside the braces, and
	// FuzzAgreesWithJWX holds Verify to accept nothing jwx refuses.
	if n < 2 || buf[0] != '{' || buf[n-1] != '}' {
		return header{}, errHeaderJSON
	}
	dec := json.NewDecoder(bytes.NewReader(buf[:n]))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return header{}, errHeaderJSON
	}
	var h header
	var typ string
	seen := make(map[string]bool, 4)
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok {
			return header{}, errHeaderJSON
		}
		if seen[name] {
			return header{}, errHeaderDup
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return header{}, errHeaderJSON
		}
		switch name {
		case "alg", "kid", "typ":
			var s string
			if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				return header{}, errHeaderType
			}
			switch name {
			case "alg":
				h.alg = s
			case "kid":
				h.kid = s
			case "typ":
				typ = s
			}
		case "jku", "x5u", "jwk", "x5c":
			// Each of these points at a key chosen by whoever made
			// the token; the key is always ours, found by kid.
			return header{}, errForbiddenParam
		case "crit", "b64":
			// crit demands that we understand extensions we do not
			// have; b64 changes what the signature covers.
			return header{}, errForbiddenParam
		}
		// Any other parameter is ignored, as RFC 7515 §4 asks.
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return header{}, errHeaderJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return header{}, errHeaderJSON // trailing data after the object
	}

	// Exact comparisons: explicit typing only works if nothing else is
	// accepted, and the algorithm list is closed: no none, no HMAC
	// (whose "secret" would be our public key), no RSA.
	if typ != token.Type {
		return header{}, errTyp
	}
	if h.alg != token.AlgEdDSA && h.alg != token.AlgES256 {
		return header{}, errAlg
	}
	if h.kid == "" || len(h.kid) > maxKIDLen {
		return header{}, errNoKID
	}
	return h, nil
}

// headerCache maps header segments already seen on valid tokens to their
// parsed form. Reads are a plain map lookup through an atomic pointer, with
// no lock and no allocation; writes copy the map, which is rare: a new
// entry appears once per signing key.
//
// Only headers of tokens whose signature held are added, so junk cannot
// fill it; and the mapping from header text to header is fixed, so an
// entry can never go stale: the key itself is still looked up per token.
type headerCache struct {
	m  atomic.Pointer[map[string]header]
	mu sync.Mutex // serialises writers
}

func (c *headerCache) get(seg string) (header, bool) {
	m := c.m.Load()
	if m == nil {
		return header{}, false
	}
	h, ok := (*m)[seg]
	return h, ok
}

func (c *headerCache) put(seg string, h header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	next := make(map[string]header, maxCachedHeaders)
	if old != nil {
		if _, ok := (*old)[seg]; ok {
			return
		}
		if len(*old) < maxCachedHeaders {
			for k, v := range *old {
				next[k] = v
			}
		}
	}
	// A clone, so the cache does not pin the whole token in memory.
	next[strings.Clone(seg)] = h
	c.m.Store(&next)
}
