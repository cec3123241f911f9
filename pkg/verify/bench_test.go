package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/verify"
	"github.com/causeflow/widget-sessions/pkg/verify/verifytest"
)

// The benchmarks here come in pairs: Verify next to the bare signature
// check over the same signing input and signature, so that the ratio (the
// target is 1.15 for Ed25519) reads from one run. BenchmarkVerifyVsBare
// interleaves the two and reports the ratio itself, which is steadier on
// a machine whose speed drifts during a run.

type benchToken struct {
	tok   string
	input []byte // header.payload, the signing input
	sig   []byte
	pub   *jwks.Key
}

// benchSetup mints a token shaped like the minter's (same claims, same
// lengths) and returns a Verifier over a real jwks.Cache, warmed up.
func benchSetup(b *testing.B, rev verify.RevocationChecker, opts ...verifytest.Option) (*verify.Verifier, benchToken) {
	b.Helper()
	iss := verifytest.NewIssuer(b, append([]verifytest.Option{verifytest.WithIssuer("https://sessions.causeflow.ai"), verifytest.WithAudience("widget")}, opts...)...)
	cache, err := jwks.New(iss.Server(b), jwks.Options{AllowInsecureHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	v, err := verify.New(iss.Config(), cache, rev)
	if err != nil {
		b.Fatal(err)
	}
	tok := iss.Mint(token.Claims{Subject: "user_alice", Tenant: "acme", Incident: "inc_2QJ5oF2KZ0a1f1ZcWmhdS3Ym1xq", Expiry: time.Now().Add(8 * time.Hour).Unix()})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	compact := tok[len(token.Prefix(token.EnvTest)):]
	dot := strings.LastIndexByte(compact, '.')
	sig, err := base64.RawURLEncoding.DecodeString(compact[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	return v, benchToken{tok: tok, input: []byte(compact[:dot]), sig: sig, pub: iss.PublicKey()}
}

// mapRevocation is what the revocation mirror of ARCHITECTURE.md costs: a
// read lock and map lookups (session, then user in tenant, then tenant).
func mapRevocation() verify.RevocationChecker {
	var mu sync.RWMutex
	sessions := make(map[string]bool, 10000)
	before := make(map[string]int64, 10000)
	for i := range 10000 {
		sessions[fmt.Sprintf("wsess_%027d", i)] = true
		before[fmt.Sprintf("acme-%d/user_%d", i, i)] = 1
	}
	return verify.RevocationFunc(func(c *token.Claims) (bool, error) {
		mu.RLock()
		defer mu.RUnlock()
		if sessions[c.SessionID] {
			return true, nil
		}
		if t, ok := before[c.Tenant]; ok && c.IssuedAt < t {
			return true, nil
		}
		return false, nil
	})
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		rev  verify.RevocationChecker
	}{
		{"NoRevocation", verify.NoRevocation},
		{"MapRevocation", mapRevocation()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v, bt := benchSetup(b, bc.rev)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, bt.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBareEd25519Verify(b *testing.B) {
	_, bt := benchSetup(b, verify.NoRevocation)
	pub := bt.pub.Public.(ed25519.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(pub, bt.input, bt.sig) {
			b.Fatal("bad signature")
		}
	}
}

func BenchmarkVerifyES256(b *testing.B) {
	v, bt := benchSetup(b, verify.NoRevocation, verifytest.WithES256())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, bt.tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBareES256Verify(b *testing.B) {
	_, bt := benchSetup(b, verify.NoRevocation, verifytest.WithES256())
	pub := *bt.pub.Public.(*ecdsa.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(bt.input)
		r, s := new(big.Int).SetBytes(bt.sig[:32]), new(big.Int).SetBytes(bt.sig[32:])
		if !ecdsa.Verify(&pub, h[:], r, s) {
			b.Fatal("bad signature")
		}
	}
}

// BenchmarkVerifyVsBare alternates blocks of Verify and of the bare
// ed25519.Verify and reports both per-op times and their ratio. Its B/op
// and allocs/op, if shown, are per block of 16 of each.
func BenchmarkVerifyVsBare(b *testing.B) {
	v, bt := benchSetup(b, mapRevocation())
	pub := bt.pub.Public.(ed25519.PublicKey)
	ctx := context.Background()
	const block = 16
	var tv, tb time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		for range block {
			if _, err := v.Verify(ctx, bt.tok); err != nil {
				b.Fatal(err)
			}
		}
		mid := time.Now()
		for range block {
			if !ed25519.Verify(pub, bt.input, bt.sig) {
				b.Fatal("bad signature")
			}
		}
		tv += mid.Sub(start)
		tb += time.Since(mid)
		n += block
	}
	b.ReportMetric(0, "ns/op") // the loop runs both; per-op figures follow
	b.ReportMetric(float64(tv.Nanoseconds())/float64(n), "verify-ns/op")
	b.ReportMetric(float64(tb.Nanoseconds())/float64(n), "bare-ns/op")
	b.ReportMetric(float64(tv)/float64(tb), "ratio")
}

// BenchmarkVerifyJunk is the cost of refusing a token that fails early.
func BenchmarkVerifyJunk(b *testing.B) {
	v, bt := benchSetup(b, verify.NoRevocation)
	junk := bt.tok[:len(bt.tok)-1] + "!"
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, junk); err == nil {
			b.Fatal("junk verified")
		}
	}
}
