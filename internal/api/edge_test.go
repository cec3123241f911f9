package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/segmentio/ksuid"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// The widget's endpoints other than the stream itself: its session and
// incident context, messages, stream tickets.

// widgetSessionBody is the 200 body of GET /v1/widget/session.
type widgetSessionBody struct {
	SessionID     string          `json:"sessionId"`
	UserID        string          `json:"userId"`
	TenantID      string          `json:"tenantId"`
	ExpiresAt     string          `json:"expiresAt"`
	Incident      json.RawMessage `json:"incident"`
	ContextStatus string          `json:"contextStatus"`
}

func TestWidgetSession(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, caller, body        string
		tenant, status, incTenant string // incTenant: the incident's tenantId; "" = incident null
	}{
		{"with an incident", f.admin(t, "demo"), withIncident, "demo", "loaded", "demo"},
		{"with an incident of another tenant", f.admin(t, "acme"), `{"userId":"user_carol","incidentId":"inc_1"}`, "acme", "loaded", "acme"},
		{"without an incident", f.admin(t, "demo"), `{"userId":"user_alice"}`, "demo", "none", ""},
		{"incident source down", f.admin(t, "demo"), `{"userId":"user_alice","incidentId":"inc_down_1"}`, "demo", "unavailable", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := decodeCreated(t, f.do(t, f.mintRequest(t, tt.caller, tt.body)))
			resp := f.edge(t, http.MethodGet, "/v1/widget/session", m.SessionToken, "", "")
			if resp.Status != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", resp.Status, resp.Body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			var got widgetSessionBody
			dec := json.NewDecoder(bytes.NewReader(resp.Body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("body %s: %v", resp.Body, err)
			}
			if got.SessionID != m.SessionID || got.UserID == "" || got.TenantID != tt.tenant || got.ExpiresAt != m.ExpiresAt || got.ContextStatus != tt.status {
				t.Errorf("body %s: want session %s of tenant %s expiring %s, contextStatus %s", resp.Body, m.SessionID, tt.tenant, m.ExpiresAt, tt.status)
			}
			if tt.incTenant == "" {
				if string(got.Incident) != "null" {
					t.Errorf("incident = %q, want null", got.Incident)
				}
				return
			}
			var inc struct{ ID, TenantID, Title string }
			if json.Unmarshal(got.Incident, &inc) != nil || inc.ID != "inc_1" || inc.TenantID != tt.incTenant || inc.Title == "" {
				t.Errorf("incident = %s, want inc_1 of tenant %s with a title", got.Incident, tt.incTenant)
			}
		})
	}
}

// TestWidgetSessionRefusesBadTokens covers every way a session token can
// be wrong: each is a 401 that names the Bearer scheme.
func TestWidgetSessionRefusesBadTokens(t *testing.T) {
	f := newFixture(t)
	good := f.mint(t, `{"userId":"user_alice"}`)
	revoked := f.mint(t, `{"userId":"user_alice"}`)
	f.want204(t, f.admin(t, "demo"), sessionPath(revoked.SessionID))
	expired := validClaims(t)
	expired.IssuedAt, expired.NotBefore, expired.Expiry = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
	live := token.Wrap(token.EnvLive, strings.TrimPrefix(good.SessionToken, token.Prefix(token.EnvTest)))

	for _, tt := range []struct{ name, authorization string }{
		{"no Authorization", ""},
		{"garbage", "Bearer nope"},
		{"empty bearer", "Bearer "},
		{"another scheme", "Basic " + good.SessionToken},
		{"expired", "Bearer " + f.signClaims(t, expired)},
		{"caller JWT", f.bearer(t)},
		{"revoked session", "Bearer " + revoked.SessionToken},
		{"live token on a test edge", "Bearer " + live},
		{"tampered", "Bearer " + tamperSignature(good.SessionToken)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, f.URL+"/v1/widget/session", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp := f.do(t, req)
			checkError(t, resp, http.StatusUnauthorized, "unauthorized")
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The refusals mean something only if the good token is accepted.
	if resp := f.edge(t, http.MethodGet, "/v1/widget/session", good.SessionToken, "", ""); resp.Status != http.StatusOK {
		t.Fatalf("the good token: status %d: %s", resp.Status, resp.Body)
	}
}

func TestSendMessage(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, withIncident)
	other := f.mint(t, `{"userId":"user_bob"}`)
	acme := f.mintIn(t, "acme", "user_carol")
	path := widgetPath(m.SessionID, "messages")

	t.Run("accepted, then the reply lands in the log in order", func(t *testing.T) {
		id := f.send(t, m, "What is the suspected cause?")
		evs := waitForReply(t, f.events, m.SessionID, id)
		checkReply(t, evs, id, "What is the suspected cause?")
	})

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name, path, tok, ctype, body string
			status                       int
			code, field                  string
		}{
			{"another session's sid", widgetPath(other.SessionID, "messages"), m.SessionToken, "application/json", `{"content":"hi"}`, 403, "forbidden", ""},
			{"a session of another tenant", widgetPath(acme.SessionID, "messages"), m.SessionToken, "application/json", `{"content":"hi"}`, 403, "forbidden", ""},
			{"another tenant's token on this session", path, acme.SessionToken, "application/json", `{"content":"hi"}`, 403, "forbidden", ""},
			{"no token", path, "", "application/json", `{"content":"hi"}`, 401, "unauthorized", ""},
			{"content missing", path, m.SessionToken, "application/json", `{}`, 400, "validation_error", "content"},
			{"content empty", path, m.SessionToken, "application/json", `{"content":""}`, 400, "validation_error", "content"},
			{"content a number", path, m.SessionToken, "application/json", `{"content":42}`, 400, "validation_error", "content"},
			{"content null", path, m.SessionToken, "application/json", `{"content":null}`, 400, "validation_error", "content"},
			{"content an object", path, m.SessionToken, "application/json", `{"content":{"text":"hi"}}`, 400, "validation_error", "content"},
			{"content over 4096 bytes", path, m.SessionToken, "application/json", `{"content":"` + strings.Repeat("a", 4097) + `"}`, 400, "validation_error", "content"},
			{"content over 4096 bytes in runes", path, m.SessionToken, "application/json", `{"content":"` + strings.Repeat("é", 2049) + `"}`, 400, "validation_error", "content"},
			{"duplicate content", path, m.SessionToken, "application/json", `{"content":"a","content":"b"}`, 400, "validation_error", "content"},
			{"unknown field", path, m.SessionToken, "application/json", `{"content":"hi","role":"assistant"}`, 400, "validation_error", "role"},
			// Raw invalid UTF-8 is refused for the body as a whole, before
			// any member is read: the error names no field.
			{"invalid UTF-8", path, m.SessionToken, "application/json", "{\"content\":\"a\xffb\"}", 400, "validation_error", ""},
			{"not an object", path, m.SessionToken, "application/json", `["hi"]`, 400, "validation_error", ""},
			{"empty body", path, m.SessionToken, "application/json", ``, 400, "validation_error", ""},
			{"text/plain", path, m.SessionToken, "text/plain", `{"content":"hi"}`, 415, "unsupported_media_type", ""},
			{"no Content-Type", path, m.SessionToken, "", `{"content":"hi"}`, 415, "unsupported_media_type", ""},
			{"over 16 KiB", path, m.SessionToken, "application/json", `{"content":"` + strings.Repeat("a", 17<<10) + `"}`, 413, "payload_too_large", ""},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := logLen(t, f.events, m.SessionID)
				e := checkError(t, f.edge(t, http.MethodPost, tt.path, tt.tok, tt.ctype, tt.body), tt.status, tt.code)
				if tt.field != "" && (e.Field == nil || *e.Field != tt.field || !strings.HasPrefix(e.Message, tt.field+": ")) {
					t.Errorf("field = %v, message %q: want them to name %s", e.Field, e.Message, tt.field)
				}
				if tt.status == 400 && tt.field == "" && e.Field != nil {
					t.Errorf("field = %q, want none for a body-level error", *e.Field)
				}
				if after := logLen(t, f.events, m.SessionID); after != before {
					t.Errorf("a refused message changed the log: %d events, then %d", before, after)
				}
			})
		}
	})

	t.Run("bounds are inclusive", func(t *testing.T) {
		for _, content := range []string{strings.Repeat("a", 4096), strings.Repeat("é", 2048), "x"} {
			f.send(t, m, content)
		}
	})
}

func TestSendMessageRateLimit(t *testing.T) {
	f := newFixture(t, withMessageLimit(2))
	m := f.mint(t, `{"userId":"user_alice"}`)
	other := f.mint(t, `{"userId":"user_bob"}`)
	f.send(t, m, "one")
	f.send(t, m, "two")
	resp := f.edge(t, http.MethodPost, widgetPath(m.SessionID, "messages"), m.SessionToken, "application/json", `{"content":"three"}`)
	checkError(t, resp, http.StatusTooManyRequests, "rate_limited")
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After = %q, want whole seconds >= 1", resp.Header.Get("Retry-After"))
	}
	// The limit is per session.
	f.send(t, other, "one")
}

func TestStreamTickets(t *testing.T) {
	f := newFixture(t)
	a := f.mint(t, withIncident)
	b := f.mint(t, `{"userId":"user_bob"}`)
	acme := f.mintIn(t, "acme", "user_carol")

	t.Run("issued", func(t *testing.T) {
		resp := f.edge(t, http.MethodPost, widgetPath(a.SessionID, "stream-tickets"), a.SessionToken, "", "")
		if resp.Status != http.StatusCreated {
			t.Fatalf("status = %d, want 201: %s", resp.Status, resp.Body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		var v struct {
			Ticket    string `json:"ticket"`
			ExpiresIn int    `json:"expiresIn"`
		}
		dec := json.NewDecoder(bytes.NewReader(resp.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil || !strings.HasPrefix(v.Ticket, "wstk_") || len(v.Ticket) < 40 || v.ExpiresIn != 30 {
			t.Errorf("body %s (%v): want a wstk_ ticket and expiresIn 30", resp.Body, err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name, sid, tok string
			status         int
		}{
			{"another session's sid", b.SessionID, a.SessionToken, 403},
			{"a session of another tenant", acme.SessionID, a.SessionToken, 403},
			{"no token", a.SessionID, "", 401},
			{"garbage token", a.SessionID, "nope", 401},
		} {
			t.Run(tt.name, func(t *testing.T) {
				checkError(t, f.edge(t, http.MethodPost, widgetPath(tt.sid, "stream-tickets"), tt.tok, "", ""), tt.status, codeFor(tt.status))
			})
		}
	})

	t.Run("single use", func(t *testing.T) {
		tk := f.ticket(t, a)
		s, resp := f.openStream(t, a.SessionID, streamOpts{ticket: tk})
		if s == nil {
			t.Fatalf("first use: status %d: %s", resp.Status, resp.Body)
		}
		s.close()
		_, resp = f.openStream(t, a.SessionID, streamOpts{ticket: tk})
		checkError(t, resp, http.StatusUnauthorized, "unauthorized")
	})

	t.Run("another session's ticket is refused and not spent", func(t *testing.T) {
		tk := f.ticket(t, a)
		_, resp := f.openStream(t, b.SessionID, streamOpts{ticket: tk})
		checkError(t, resp, http.StatusUnauthorized, "unauthorized")
		s, resp := f.openStream(t, a.SessionID, streamOpts{ticket: tk})
		if s == nil {
			t.Fatalf("the ticket, refused on another session's stream, no longer opens its own: %d %s", resp.Status, resp.Body)
		}
		s.close()
	})

	t.Run("garbage tickets", func(t *testing.T) {
		for _, tk := range []string{"nope", "wstk_", "wstk_" + strings.Repeat("A", 43), "wst_test_a.b.c"} {
			_, resp := f.openStream(t, a.SessionID, streamOpts{ticket: tk})
			checkError(t, resp, http.StatusUnauthorized, "unauthorized")
		}
	})

	t.Run("session revoked after issue", func(t *testing.T) {
		c := f.mint(t, `{"userId":"user_alice"}`)
		tk := f.ticket(t, c)
		f.want204(t, f.admin(t, "demo"), sessionPath(c.SessionID))
		_, resp := f.openStream(t, c.SessionID, streamOpts{ticket: tk})
		checkError(t, resp, http.StatusUnauthorized, "unauthorized")
	})
}

// logLen returns how many events the session's log holds.
func logLen(t testing.TB, log *events.Memory, sid string) int {
	t.Helper()
	evs, err := log.Range(context.Background(), sid, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

// waitForReply polls the session's log until the reply to message msgID
// is complete (or failed) and returns the events from its message.created.
func waitForReply(t testing.TB, log *events.Memory, sid, msgID string) []sseFrame {
	t.Helper()
	var evs []events.Event
	var out []sseFrame
	wait.For(t, "a complete reply to "+msgID, func() bool {
		var err error
		if evs, err = log.Range(context.Background(), sid, "", 10000); err != nil {
			t.Fatal(err)
		}
		out = out[:0]
		for _, e := range evs {
			if len(out) == 0 && !(e.Type == events.MessageCreated && strings.Contains(string(e.Data), msgID)) {
				continue
			}
			out = append(out, sseFrame{ID: e.ID, Type: e.Type, Data: string(e.Data), hasID: true})
			if e.Type == events.ResponseCompleted || e.Type == events.Error {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("log: %+v", evs) })
	return out
}

// tamperSignature changes one letter in the middle of the signature, always
// to a different base64url letter (replacing the tail with a fixed string
// would leave the 1 token in 256 that already ends that way untouched).
func tamperSignature(tok string) string {
	b := []byte(tok)
	i := len(b) - 10
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestSessionRequestsBounded: a session's reads of GET /v1/widget/session
// and its stop requests (each a pub/sub message every replica receives)
// are bounded per session, each on its own count; another session keeps
// its own budget.
func TestSessionRequestsBounded(t *testing.T) {
	f := newFixture(t, withSessionLimit(3))
	a, b := f.mint(t, `{"userId":"user_alice"}`), f.mint(t, `{"userId":"user_alice"}`)
	stopPath := func(m mintResponse) string {
		return widgetPath(m.SessionID, "messages/msg_"+ksuid.New().String()+"/stop")
	}
	for i := range 3 {
		if r := f.edge(t, http.MethodGet, "/v1/widget/session", a.SessionToken, "", ""); r.Status != http.StatusOK {
			t.Fatalf("read %d: %d %s", i+1, r.Status, r.Body)
		}
		if r := f.edge(t, http.MethodPost, stopPath(a), a.SessionToken, "", ""); r.Status != http.StatusNoContent {
			t.Fatalf("stop %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	for what, r := range map[string]response{
		"a fourth read": f.edge(t, http.MethodGet, "/v1/widget/session", a.SessionToken, "", ""),
		"a fourth stop": f.edge(t, http.MethodPost, stopPath(a), a.SessionToken, "", ""),
	} {
		checkError(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 429 without Retry-After", what)
		}
	}
	if r := f.edge(t, http.MethodGet, "/v1/widget/session", b.SessionToken, "", ""); r.Status != http.StatusOK {
		t.Errorf("another session's read: %d %s", r.Status, r.Body)
	}
	if r := f.edge(t, http.MethodPost, stopPath(b), b.SessionToken, "", ""); r.Status != http.StatusNoContent {
		t.Errorf("another session's stop: %d %s", r.Status, r.Body)
	}
}
