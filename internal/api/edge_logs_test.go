package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/wait"
)

// TestEdgeLogsHoldNoSecrets drives every edge endpoint with session tokens
// and stream tickets (which travel in the URL), valid, used, misplaced and
// garbage, then searches the captured logs for them: the access log names
// the route template, never the URL with its query.
func TestEdgeLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t)
	const (
		ticketCanary = "wstk_CANARYtkt0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7" // ticket-shaped, 48 characters
		queryCanary  = "CANARYquery9z8y7x6w"
		headerCanary = "CANARYhdr5t6y7u8i9"
	)
	m := f.mint(t, withIncident)
	other := f.mint(t, `{"userId":"user_bob"}`)
	streamRoute := "/v1/widget/sessions/:sessionId/stream"

	// A live stream opened with a ticket, carrying a whole reply.
	used := f.ticket(t, m)
	s, resp := f.openStream(t, m.SessionID, streamOpts{ticket: used})
	if s == nil {
		t.Fatalf("stream: status %d: %s", resp.Status, resp.Body)
	}
	id := f.send(t, m, "What happened?")
	checkReply(t, s.reply(t), id, "What happened?")
	s.close()

	misplaced := f.ticket(t, m)
	revokedTicket := f.ticket(t, other)
	f.want204(t, f.admin(t, "demo"), sessionPath(other.SessionID))
	for _, c := range []struct {
		name   string
		sid    string
		o      streamOpts
		status int
	}{
		{"used ticket", m.SessionID, streamOpts{ticket: used}, 401},
		{"misplaced ticket", other.SessionID, streamOpts{ticket: misplaced}, 401},
		{"revoked session's ticket", other.SessionID, streamOpts{ticket: revokedTicket}, 401},
		{"garbage ticket", m.SessionID, streamOpts{ticket: ticketCanary}, 401},
		{"token and a query", m.SessionID, streamOpts{token: m.SessionToken, query: "token=" + queryCanary}, 400},
		{"bad Last-Event-ID", m.SessionID, streamOpts{token: m.SessionToken, query: "lastEventId=" + queryCanary}, 400},
		{"garbage token", m.SessionID, streamOpts{token: headerCanary}, 401},
	} {
		if _, resp := f.openStream(t, c.sid, c.o); resp.Status != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.name, resp.Status, c.status, resp.Body)
		}
	}
	for _, c := range []struct {
		method, path, tok, body string
		status                  int
	}{
		{http.MethodGet, "/v1/widget/session?token=" + queryCanary, m.SessionToken, "", 200},
		{http.MethodGet, "/v1/widget/session", headerCanary, "", 401},
		{http.MethodPost, widgetPath(m.SessionID, "messages"), m.SessionToken, `{"content":"` + queryCanary + `","x":1}`, 400},
		{http.MethodPost, widgetPath(other.SessionID, "messages"), m.SessionToken, `{"content":"hi"}`, 403},
		{http.MethodPost, widgetPath(other.SessionID, "stream-tickets"), other.SessionToken, "", 401},
	} {
		if resp := f.edge(t, c.method, c.path, c.tok, "application/json", c.body); resp.Status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, resp.Status, c.status, resp.Body)
		}
	}

	// The live stream's request line is written when its handler returns,
	// after the client went away: wait for it.
	var streamLines []map[string]any
	wait.Poll(wait.Limit, func() bool {
		streamLines = streamLines[:0]
		for _, e := range f.logs.entries(t) {
			if e["msg"] == "request" && e["route"] == streamRoute {
				streamLines = append(streamLines, e)
			}
		}
		return len(streamLines) >= 8
	})
	if len(streamLines) != 8 {
		t.Fatalf("%d request lines for the stream route, want 8 (one per stream request)", len(streamLines))
	}
	var ok200 bool
	for _, e := range streamLines {
		ok200 = ok200 || e["status"] == float64(200) && e["session"] == m.SessionID
	}
	if !ok200 {
		t.Error("no request line for the live stream with its status and session")
	}

	logs := f.logs.String()
	secrets := map[string]string{
		"session token": m.SessionToken, "other session token": other.SessionToken,
		"session token JWS":       strings.TrimPrefix(m.SessionToken, "wst_test_"),
		"session token signature": m.SessionToken[strings.LastIndexByte(m.SessionToken, '.')+1:],
		"used ticket":             used, "misplaced ticket": misplaced, "revoked session's ticket": revokedTicket,
		"used ticket body": strings.TrimPrefix(used, "wstk_"),
		"ticket canary":    ticketCanary, "query canary": queryCanary, "header canary": headerCanary,
		"ticket prefix": "wstk_", "token prefix": "wst_", "a query string": "ticket=", "an event id query": "lastEventId=",
	}
	for name, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the %s %q", name, secret)
		}
	}
}
