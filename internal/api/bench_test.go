package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/audit"
)

// BenchmarkMintHTTP is one mint through the real engine and every
// middleware, caller-JWT verification and signing included (in process:
// no socket). Read it against BenchmarkBareEd25519Sign from the same run:
// the ratio, not the absolute time, is what to compare between machines.
func BenchmarkMintHTTP(b *testing.B) {
	benchMint(b, newFixture(b, discardLogs()))
}

// benchMint mints through f's engine for as long as b asks.
func benchMint(b *testing.B, f *fixture) {
	authorization := f.bearer(b)
	const body = `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, mintPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authorization)
		rec := httptest.NewRecorder()
		f.engine.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkBareEd25519Sign signs the signing input of a real session token
// with crypto/ed25519 alone: the floor under BenchmarkMintHTTP.
func BenchmarkBareEd25519Sign(b *testing.B) {
	f := newFixture(b, discardLogs())
	tok := f.mint(b, `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`).SessionToken
	input := []byte(tok[len("wst_test_"):strings.LastIndexByte(tok, '.')])
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ed25519.Sign(priv, input)
	}
}

// BenchmarkMintHTTPAudited is BenchmarkMintHTTP with the audit trail on
// (buffered, as the service writes it): its cost per mint is the
// difference between the two.
func BenchmarkMintHTTPAudited(b *testing.B) {
	trail, err := audit.Open("stdout", io.Discard, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = trail.Close() })
	benchMint(b, newFixture(b, discardLogs(), func(c *fixtureConfig) { c.audit = trail }))
}
