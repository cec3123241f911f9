package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestModelBudgetAcrossReplicas: a tenant's model tokens, as the upstream
// reports them, are counted by every replica together in Redis. Once its
// budget is spent (one reply on replica A: 42 prompt + 2 completion tokens
// of a 40-token budget), its next message is refused on replica B, before
// it is accepted, with 429 model_budget_exhausted and a Retry-After until
// midnight UTC; another tenant's users go on.
func TestModelBudgetAcrossReplicas(t *testing.T) {
	t.Parallel()
	model := &fakeModel{chunks: []string{"Roll ", "back."}}
	upstream := httptest.NewServer(model)
	t.Cleanup(upstream.Close)
	doc := filepath.Join(t.TempDir(), "tenants.json")
	if err := os.WriteFile(doc, []byte(`{"tenants": {"acme": {"modelTokensPerDay": 40}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, redistest.Start(t).URL(), map[string]string{
		"WIDGET_ASSISTANT_URL": upstream.URL + "/v1", "WIDGET_ASSISTANT_MODEL": "test-model", "WIDGET_TENANTS": doc,
		"WIDGET_MODEL_TOKENS_PER_DAY": "1000000",
	})
	a, b := startServer(t, c.env), startServer(t, c.env)
	acme := a.mintCreated(t, c.caller(t, "acme", "admin"), `{"userId": "user_carol"}`)
	demo := a.mintCreated(t, c.caller(t, "demo", "admin"), `{"userId": "user_alice"}`)

	stream := mustOpenStream(t, streamClient(t), a.streamURL(acme.SessionID), bearer(acme.SessionToken))
	defer stream.close()
	msg := a.mustSend(t, acme.SessionID, acme.SessionToken, "Why is checkout failing?")
	stream.until(t, streamWait, replyEnded(t, msg))

	var r response
	wait.For(t, "acme's spent budget refused on replica B", func() bool {
		r = b.send(t, acme.SessionID, acme.SessionToken, "And now?")
		return r.status == http.StatusTooManyRequests
	}, func() string { return "last answer: " + strconv.Itoa(r.status) + " " + string(r.body) })
	if r.code() != "model_budget_exhausted" {
		t.Errorf("code %q, want model_budget_exhausted", r.code())
	}
	after, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || after < 1 || time.Duration(after)*time.Second > 24*time.Hour {
		t.Errorf("Retry-After %q, want the seconds until midnight UTC", r.header.Get("Retry-After"))
	}
	b.mustSend(t, demo.SessionID, demo.SessionToken, "Why is checkout failing?") // another tenant's budget is whole
}
