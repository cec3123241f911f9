package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestTenantsShareRedisFairly: one tenant filling its share of Redis, then
// Redis itself, while another tenant mints, streams, talks and revokes
// without a single error.
//   - Its share: "hog" may hold 3 conversations; a fourth is refused (429
//     storage_quota_exceeded, before the message is accepted).
//   - Redis itself: "flood", whose caps are lifted, writes until the data
//     Redis (maxmemory, noeviction) refuses writes. The revocations live
//     on their own Redis (WIDGET_REVOCATION_REDIS_URL): a revocation still
//     answers 204 and holds.
func TestTenantsShareRedisFairly(t *testing.T) {
	t.Parallel()
	data := redistest.StartWith(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	revocations := redistest.Start(t)
	doc := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(doc, []byte(`{"tenants": {
		"hog": {"maxStoredSessions": 3},
		"flood": {"maxStoredSessions": 1000000, "maxStoredBytes": 1000000000, "maxRepliesInFlight": 1000000}
	}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	directory := filepath.Join(t.TempDir(), "directory.json")
	if err := os.WriteFile(directory, []byte(`{"tenants": {"demo": {"users": ["user_alice", "user_bob"]},
		"hog": {"users": ["user_alice"]}, "flood": {"users": ["user_alice"]}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, data.URL(), map[string]string{
		"WIDGET_REVOCATION_REDIS_URL": revocations.URL(), "WIDGET_TENANTS": doc, "WIDGET_MESSAGE_RATE_LIMIT": "1000",
		"WIDGET_DIRECTORY": directory, "WIDGET_MAX_REPLIES": "100000",
	})
	s := startServer(t, c.env)
	demoAdmin, service := c.caller(t, "demo", "admin"), c.caller(t, "causeflow", "service")

	// demo's whole flow, every step required to succeed.
	demoFlow := func(t *testing.T, when string) {
		t.Helper()
		sess := s.mintCreated(t, demoAdmin, `{"userId": "user_alice"}`)
		if !s.active(t, service, sess.SessionToken) {
			t.Fatalf("%s: demo's new session is inactive", when)
		}
		s.mustRevoke(t, demoAdmin, "/v1/widget/sessions/"+sess.SessionID)
		if s.active(t, service, sess.SessionToken) {
			t.Fatalf("%s: demo's revoked session is still active", when)
		}
	}
	demoTalk := func(t *testing.T) {
		t.Helper()
		sess := s.mintCreated(t, demoAdmin, `{"userId": "user_bob"}`)
		st := mustOpenStream(t, streamClient(t), s.streamURL(sess.SessionID), bearer(sess.SessionToken))
		defer st.close()
		msg := s.mustSend(t, sess.SessionID, sess.SessionToken, "Why is checkout failing?")
		st.until(t, streamWait, replyEnded(t, msg))
	}

	t.Run("a tenant's share", func(t *testing.T) {
		hog := c.caller(t, "hog", "admin")
		for i := range 3 {
			sess := s.mintCreated(t, hog, `{"userId": "user_alice"}`)
			s.mustSend(t, sess.SessionID, sess.SessionToken, fmt.Sprintf("question %d", i))
			demoTalk(t)
		}
		fourth := s.mintCreated(t, hog, `{"userId": "user_alice"}`)
		r := s.send(t, fourth.SessionID, fourth.SessionToken, "one more")
		wantStatus(t, r, http.StatusTooManyRequests, "storage_quota_exceeded")
		if r.header.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		demoTalk(t)
		demoFlow(t, "hog at its share")
	})

	t.Run("Redis full", func(t *testing.T) {
		flood := c.caller(t, "flood", "admin")
		big := strings.Repeat("x", 4000)
		full := false
		for i := 0; i < 400 && !full; i++ {
			sess := s.mintCreated(t, flood, `{"userId": "user_alice"}`)
			for range 20 {
				r := s.send(t, sess.SessionID, sess.SessionToken, big)
				if r.status == http.StatusServiceUnavailable {
					full = true
					break
				}
				if r.status != http.StatusAccepted {
					t.Fatalf("flooding: %d %s", r.status, r.body)
				}
			}
		}
		if !full {
			t.Fatal("Redis never refused a write: the test did not fill it")
		}
		demoFlow(t, "Redis full")
	})
}
