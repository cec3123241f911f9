package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/causeflow/widget-sessions/internal/keys"
)

// TestJWKS checks the published keys: cacheable with an ETag, revalidated
// with 304, public halves only, and enough for an independent validator to
// verify a token minted through the API.
func TestJWKS(t *testing.T) {
	f := newFixture(t)
	resp := f.get(t, jwksPath)
	if resp.Status != http.StatusOK {
		t.Fatalf("status = %d: %s", resp.Status, resp.Body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || !strings.Contains(cc, "public") {
		t.Errorf("Cache-Control = %q, want public with a max-age", cc)
	}
	etag := resp.Header.Get("ETag")
	if len(etag) < 3 || !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) {
		t.Fatalf("ETag = %q, want a quoted entity tag", etag)
	}

	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(resp.Body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("%d keys published, want 1", len(doc.Keys))
	}
	for _, k := range doc.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("published key has private member %q", private)
			}
		}
		if k["kid"] != f.ring.Current().ActiveKID() || k["alg"] != "EdDSA" || k["use"] != "sig" || k["kty"] != "OKP" {
			t.Errorf("published key = %v, want the active OKP EdDSA signing key", k)
		}
	}

	t.Run("If-None-Match", func(t *testing.T) {
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			req, _ := http.NewRequest(http.MethodGet, f.URL+jwksPath, nil)
			req.Header.Set("If-None-Match", inm)
			resp := f.do(t, req)
			if resp.Status != http.StatusNotModified || len(resp.Body) != 0 {
				t.Errorf("If-None-Match %s: status %d, %d body bytes; want 304 and no body", inm, resp.Status, len(resp.Body))
			}
			if resp.Header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: 304 ETag = %q, want %q", inm, resp.Header.Get("ETag"), etag)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, f.URL+jwksPath, nil)
		req.Header.Set("If-None-Match", `"stale"`)
		if resp := f.do(t, req); resp.Status != http.StatusOK {
			t.Errorf("stale If-None-Match: status %d, want 200", resp.Status)
		}
	})

	t.Run("independent verification over HTTP", func(t *testing.T) {
		m := f.mint(t, `{"userId":"user_alice","incidentId":"inc_7"}`)
		set, err := jwk.Parse(f.get(t, jwksPath).Body)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := verifyWith(set, m.SessionToken)
		if err != nil {
			t.Fatalf("token does not verify against the served JWKS: %v", err)
		}
		if sid, _ := tok.JwtID(); sid != m.SessionID {
			t.Errorf("jti = %q, want %q", sid, m.SessionID)
		}
		// And the check has teeth: a tampered token does not verify.
		tampered := m.SessionToken[:len(m.SessionToken)-4] + flip(m.SessionToken[len(m.SessionToken)-4:])
		if _, err := verifyWith(set, tampered); err == nil {
			t.Error("a tampered token verified")
		}
	})

	t.Run("after a key swap", func(t *testing.T) {
		before := f.mint(t, `{"userId":"user_alice"}`)
		next, err := keys.Ephemeral()
		if err != nil {
			t.Fatal(err)
		}
		f.ring.Swap(next)
		resp := f.get(t, jwksPath)
		if got := resp.Header.Get("ETag"); got == etag || got == "" {
			t.Errorf("ETag after the swap = %q, want a new one (was %q)", got, etag)
		}
		req, _ := http.NewRequest(http.MethodGet, f.URL+jwksPath, nil)
		req.Header.Set("If-None-Match", etag)
		if r := f.do(t, req); r.Status != http.StatusOK {
			t.Errorf("old ETag after the swap: status %d, want 200", r.Status)
		}
		set, err := jwk.Parse(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		after := f.mint(t, `{"userId":"user_alice"}`)
		if hdr, _ := decodeJWS(t, strings.TrimPrefix(after.SessionToken, "wst_test_")); hdr["kid"] != next.ActiveKID() {
			t.Errorf("kid after the swap = %v, want %s", hdr["kid"], next.ActiveKID())
		}
		if _, err := verifyWith(set, after.SessionToken); err != nil {
			t.Errorf("token of the new key does not verify against the new JWKS: %v", err)
		}
		if _, err := verifyWith(set, before.SessionToken); err == nil {
			t.Error("token of the dropped key verified against the new JWKS")
		}
	})
}

// flip changes every character of a base64url string to another one.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}
