package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestRevocationCancelsReplyOnAnotherReplica: a reply running on replica
// B, its model request streaming slowly, is cancelled when the session is
// revoked on replica A: the revocation's push through Redis, the one that
// ends the session's streams, ends the model request too, and the model's
// tokens stop being spent on a session nobody may read.
func TestRevocationCancelsReplyOnAnotherReplica(t *testing.T) {
	t.Parallel()
	model := &fakeModel{chunks: make([]string, 600), delay: 50 * time.Millisecond} // 30 s of answer
	for i := range model.chunks {
		model.chunks[i] = "word "
	}
	var started, cancelled atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		model.ServeHTTP(w, r)
		if r.Context().Err() != nil {
			cancelled.Add(1) // the service hung up before the answer ended
		}
	}))
	t.Cleanup(upstream.Close)
	c := newCluster(t, redistest.Start(t).URL(), map[string]string{
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model",
	})
	a, b := startServer(t, c.env), startServer(t, c.env)
	admin := c.caller(t, "demo", "admin")
	sess := a.mintCreated(t, admin, `{"userId": "user_alice"}`)
	b.mustSend(t, sess.SessionID, sess.SessionToken, "Why is checkout failing?")
	wait.For(t, "the model asked", func() bool { return started.Load() == 1 })

	revoked := time.Now()
	a.mustRevoke(t, admin, "/v1/widget/sessions/"+sess.SessionID)
	wait.For(t, "the model request cancelled by the revocation", func() bool { return cancelled.Load() == 1 })
	t.Logf("model request cancelled %v after the revocation's request", time.Since(revoked))
}
