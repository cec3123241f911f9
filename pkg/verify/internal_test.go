package verify

import (
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/ksuid"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// claimSeeds are payloads on both sides of the fast path's subset.
var claimSeeds = []string{
	`{"iss":"https://i","aud":"a","sub":"u","tid":"t","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"inc":"i","scope":"widget","iat_ms":1773500966123}`,
	`{"iss":"https://i","aud":"a","sub":"u","tid":"t","sid":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","jti":"wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq","iat":1773500966,"nbf":1773500966,"exp":1773504566,"inc":"i","scope":"widget"}`,
	`{"iat_ms":1.5}`, `{"iat_ms":"1"}`, `{"iat_ms":null}`, `{"iat_ms":1,"iat_ms":2}`,
	` { "iss" : "a" , "exp" : 12 } `,
	`{}`, `{ }`, `[]`, `null`, `"x"`, `1`, ``, `{`, `{"iss"}`, `{"iss":}`, `{"iss":"a",}`, `{,}`,
	`{"iss":"a"}x`, `{"iss":"a"}{}`, `{"iss":"a""aud":"b"}`,
	`{"iss":"a","iss":"b"}`, `{"ISS":"a"}`, `{"iss":"a\"b"}`, `{"iss":"\u00e9"}`, "{\"iss\":\"\xff\"}", "{\"iss\":\"a\tb\"}",
	`{"iss":null}`, `{"iss":1}`, `{"iss":["a"]}`, `{"aud":["a"]}`, `{"iss":true}`,
	`{"exp":1.5}`, `{"exp":1e9}`, `{"exp":-1}`, `{"exp":-0}`, `{"exp":0}`, `{"exp":01}`, `{"exp":"1"}`, `{"exp":null}`,
	`{"exp":9223372036854775807}`, `{"exp":9223372036854775808}`, `{"exp":1234567890123456}`, `{"exp":12345678901234567}`,
	`{"x":{"y":[1,{"z":null}]},"iss":"a"}`, `{"inc":""}`, "{\"iss\":\"a\"}\n", "\t{\"iss\":\"a\"}",
}

// FuzzDecodeClaims holds the fast path to encoding/json's answer: on any
// input the fast path accepts, the two must agree exactly.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		var fast token.Claims
		fmask, ok := fastClaims(p, &fast)
		if !ok {
			return
		}
		var slow token.Claims
		smask, err := slowClaims(p, &slow)
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", p, err)
		}
		if fmask != smask || fast != slow {
			t.Fatalf("%q: fast %b %+v, encoding/json %b %+v", p, fmask, fast, smask, slow)
		}
	})
}

func TestFastPathTaken(t *testing.T) {
	// The minter's output must take the fast path, or the benchmarks
	// measure the wrong thing.
	var c token.Claims
	if _, ok := fastClaims(claimSeeds[0], &c); !ok {
		t.Fatal("the minter's payload left the fast path")
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = decodeClaims(claimSeeds[0], &c) }); allocs != 0 {
		t.Errorf("decodeClaims allocates %v times on the fast path", allocs)
	}
}

func TestValidSessionID(t *testing.T) {
	for range 100 {
		sid, err := sessionid.New(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !validSessionID(sid) {
			t.Fatalf("validSessionID(%q) = false", sid)
		}
	}
	if max := sessionIDPrefix + ksuid.Max.String(); !validSessionID(max) || max[len(sessionIDPrefix):] != maxKSUID {
		t.Fatalf("maxKSUID is not ksuid.Max (%s)", ksuid.Max)
	}
	// The same rule as sessionid.Valid (which this package does not import,
	// to keep ksuid out of an edge's import graph).
	for _, bad := range []string{"", "wsess_", "wsess_aWgEPTl1tmebfsQzFP4bxwgy80W", "wsess_zzzzzzzzzzzzzzzzzzzzzzzzzzz", "wsesx_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq", "wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1x_", "wsess_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1x."} {
		if validSessionID(bad) {
			t.Errorf("validSessionID(%q) = true", bad)
		}
	}
}

func TestHeaderCacheBounded(t *testing.T) {
	var c headerCache
	for i := range 3 * maxCachedHeaders {
		c.put(fmt.Sprintf("h%d", i), header{kid: "k", alg: token.AlgEdDSA})
		if n := len(*c.m.Load()); n > maxCachedHeaders {
			t.Fatalf("header cache holds %d entries, bound %d", n, maxCachedHeaders)
		}
	}
	last := fmt.Sprintf("h%d", 3*maxCachedHeaders-1)
	if _, ok := c.get(last); !ok {
		t.Error("the latest header is not cached")
	}
}

func TestKeyCacheBounded(t *testing.T) {
	var c keyCache
	p := &publicKey{alg: token.AlgEdDSA}
	for i := range 3 * maxCachedKeys {
		c.put(fmt.Sprint(i), p)
		if n := len(*c.m.Load()); n > maxCachedKeys {
			t.Fatalf("key cache holds %d entries, bound %d", n, maxCachedKeys)
		}
	}
}
