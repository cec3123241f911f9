package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// The widget's SSE stream, read live from the fixture's server.

// checkReply checks that evs are the user's message msgID with content,
// then at least five deltas of one reply to it, indexed from 0, then its
// completion, whose content is the deltas' concatenation; every event has
// an id, and the ids strictly increase.
func checkReply(t testing.TB, evs []sseFrame, msgID, content string) {
	t.Helper()
	if len(evs) < 7 {
		t.Fatalf("%d events, want message.created, >= 5 deltas and response.completed: %+v", len(evs), evs)
	}
	var created struct{ MessageID, Role, Content string }
	if evs[0].Type != events.MessageCreated || json.Unmarshal([]byte(evs[0].Data), &created) != nil ||
		created.MessageID != msgID || created.Role != "user" || created.Content != content {
		t.Errorf("first event %+v, want message.created of %s by the user with %q", evs[0], msgID, content)
	}
	var replyID string
	var full strings.Builder
	for i, e := range evs[1 : len(evs)-1] {
		var d struct {
			MessageID, InReplyTo, Delta string
			Index                       int
		}
		if e.Type != events.ResponseDelta || json.Unmarshal([]byte(e.Data), &d) != nil {
			t.Fatalf("event %d: %+v, want response.delta", i+1, e)
		}
		if i == 0 {
			replyID = d.MessageID
		}
		if d.Index != i || d.InReplyTo != msgID || d.MessageID != replyID || !strings.HasPrefix(replyID, "msg_") || replyID == msgID {
			t.Errorf("delta %d: %s, want index %d, inReplyTo %s and the reply's own msg_ id", i, e.Data, i, msgID)
		}
		full.WriteString(d.Delta)
	}
	last := evs[len(evs)-1]
	var done struct{ MessageID, InReplyTo, Content string }
	if last.Type != events.ResponseCompleted || json.Unmarshal([]byte(last.Data), &done) != nil {
		t.Fatalf("last event %+v, want response.completed", last)
	}
	if done.MessageID != replyID || done.InReplyTo != msgID || done.Content != full.String() || done.Content == "" {
		t.Errorf("completed %s: want reply %s to %s with the deltas' concatenation %q", last.Data, replyID, msgID, full.String())
	}
	var prev events.ID
	for i, e := range evs {
		id, err := events.ParseID(e.ID)
		if !e.hasID || err != nil {
			t.Fatalf("event %d (%s) has no valid id: %q", i, e.Type, e.ID)
		}
		if i > 0 && id.Compare(prev) <= 0 {
			t.Errorf("event %d: id %s after %s, want strictly increasing", i, e.ID, prev)
		}
		prev = id
	}
}

func TestStreamDeliversTheReply(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, withIncident)
	s, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
	if s == nil {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// The stream is open (its first comment arrived) before the message.
	if fr := s.next(t, 5*time.Second); fr.isEvent() {
		t.Fatalf("first frame %+v, want the opening comment", fr)
	}
	id := f.send(t, m, "What is the suspected cause?")
	checkReply(t, s.reply(t), id, "What is the suspected cause?")
}

func TestConcurrentStreamsSeeTheSameSequence(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, withIncident)
	a, _ := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
	b, _ := f.openStream(t, m.SessionID, streamOpts{ticket: f.ticket(t, m)})
	if a == nil || b == nil {
		t.Fatal("a stream was refused")
	}
	for _, q := range []string{"What happened?", "Tell me everything"} {
		id := f.send(t, m, q)
		ra, rb := a.reply(t), b.reply(t)
		checkReply(t, ra, id, q)
		if fmt.Sprint(ra) != fmt.Sprint(rb) {
			t.Errorf("the two streams differ:\n  A: %+v\n  B: %+v", ra, rb)
		}
	}
}

func TestStreamResumesAfterLastEventID(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name string
		o    func(m mintResponse, third string) streamOpts
	}{
		{"Last-Event-ID header", func(m mintResponse, third string) streamOpts {
			return streamOpts{token: m.SessionToken, lastEventID: third}
		}},
		{"lastEventId query", func(m mintResponse, third string) streamOpts {
			return streamOpts{token: m.SessionToken, query: "lastEventId=" + third}
		}},
		{"header and ticket, as EventSource reconnects", func(m mintResponse, third string) streamOpts {
			return streamOpts{ticket: f.ticket(t, m), lastEventID: third}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := f.mint(t, withIncident)
			first := f.send(t, m, "What happened?")
			all := waitForReply(t, f.events, m.SessionID, first)
			checkReply(t, all, first, "What happened?")

			s, resp := f.openStream(t, m.SessionID, tt.o(m, all[2].ID))
			if s == nil {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			got := s.events(t, len(all)-3)
			if fmt.Sprint(got) != fmt.Sprint(all[3:]) {
				t.Fatalf("resumed with\n  %+v\nwant exactly events 4..%d\n  %+v", got, len(all), all[3:])
			}
			// Nothing repeated after them: the next event is the next message.
			next := f.send(t, m, "And then?")
			if e := s.nextEvent(t, 5*time.Second); e.Type != events.MessageCreated || !strings.Contains(e.Data, next) {
				t.Fatalf("after the resumed events came %+v, want message.created of %s", e, next)
			}
		})
	}
}

func TestStreamRefusesInvalidLastEventID(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, `{"userId":"user_alice"}`)
	for _, id := range []string{"abc", "1-2-3", strings.Repeat("9", 50), "1", "-1-0", "01-0", "1-", "1700000000000-0x", "1.5-0", "99999999999999999999-0"} {
		for _, via := range []string{"header", "query"} {
			t.Run(via+" "+id, func(t *testing.T) {
				o := streamOpts{token: m.SessionToken, lastEventID: id}
				if via == "query" {
					o = streamOpts{token: m.SessionToken, query: "lastEventId=" + url.QueryEscape(id)}
				}
				_, resp := f.openStream(t, m.SessionID, o)
				e := checkError(t, resp, http.StatusBadRequest, "validation_error")
				if e.Field == nil || *e.Field != "Last-Event-ID" || !strings.HasPrefix(e.Message, "Last-Event-ID") {
					t.Errorf("field %v, message %q: want them to name Last-Event-ID", e.Field, e.Message)
				}
			})
		}
	}
}

func TestStreamCapPerSession(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, `{"userId":"user_alice"}`)
	other := f.mint(t, `{"userId":"user_bob"}`)
	one, _ := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
	two, _ := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
	if one == nil || two == nil {
		t.Fatal("a stream under the cap was refused")
	}
	_, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
	checkError(t, resp, http.StatusTooManyRequests, "too_many_streams")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The cap is per session.
	if s, resp := f.openStream(t, other.SessionID, streamOpts{token: other.SessionToken}); s == nil {
		t.Fatalf("another session's stream: status %d: %s", resp.Status, resp.Body)
	}

	one.close()
	wait.For(t, "the cap admitting a stream once one was closed", func() bool {
		s, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
		if s == nil {
			checkError(t, resp, http.StatusTooManyRequests, "too_many_streams")
		}
		return s != nil
	})
}

func TestStreamHeartbeat(t *testing.T) {
	f := newFixture(t, withHeartbeat(50*time.Millisecond))
	m := f.mint(t, `{"userId":"user_alice"}`)
	s, _ := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
	if s == nil {
		t.Fatal("stream refused")
	}
	pings, deadline := 0, time.Now().Add(5*time.Second)
	for pings < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d ping comments in 5s, want 3 at a 50ms heartbeat", pings)
		}
		fr := s.next(t, time.Until(deadline))
		if fr.isEvent() {
			t.Fatalf("an idle stream sent %+v", fr)
		}
		for _, c := range fr.Comments {
			if c == "ping" {
				pings++
			}
		}
	}
}

// TestStreamEnds checks every way the server ends a stream: a final error
// event without an id (so a resume never skips past it), or retry before a
// drain, and then the end of the response.
func TestStreamEnds(t *testing.T) {
	failing := &atomic.Bool{}
	revs := newFakeRevocations()
	revs.isRevoked = func(c *token.Claims) (bool, error) {
		if failing.Load() {
			return false, fmt.Errorf("test: revocation mirror stale")
		}
		return revs.mem.IsRevoked(c)
	}
	revs.fresh = func() error {
		if failing.Load() {
			return fmt.Errorf("test: revocation mirror stale")
		}
		return nil
	}
	for _, tt := range []struct {
		name    string
		opts    []fixtureOption
		body    string
		trigger func(t *testing.T, f *fixture, m mintResponse)
		within  time.Duration
		code    string // the final error's; "" for a drain
	}{
		{"revoked", nil, `{"userId":"user_alice"}`, func(t *testing.T, f *fixture, m mintResponse) {
			f.want204(t, f.admin(t, "demo"), sessionPath(m.SessionID))
		}, 2 * time.Second, "session_revoked"},
		// With no liveness tick to speak of, only the pushed revocation
		// can end the stream: the session's, the user's, the tenant's.
		{"revoked, pushed", []fixtureOption{withLiveness(time.Hour)}, `{"userId":"user_alice"}`, func(t *testing.T, f *fixture, m mintResponse) {
			f.want204(t, f.admin(t, "demo"), sessionPath(m.SessionID))
		}, 2 * time.Second, "session_revoked"},
		{"user revoked, pushed", []fixtureOption{withLiveness(time.Hour)}, `{"userId":"user_alice"}`, func(t *testing.T, f *fixture, m mintResponse) {
			f.want204(t, f.admin(t, "demo"), "/v1/widget/users/user_alice/sessions")
		}, 2 * time.Second, "session_revoked"},
		{"tenant revoked, pushed", []fixtureOption{withLiveness(time.Hour)}, `{"userId":"user_alice"}`, func(t *testing.T, f *fixture, m mintResponse) {
			f.want204(t, f.ops(t), "/v1/widget/tenants/demo/sessions")
		}, 2 * time.Second, "session_revoked"},
		{"revocation state unknown", []fixtureOption{withRevocations(revs)}, `{"userId":"user_alice"}`, func(*testing.T, *fixture, mintResponse) {
			failing.Store(true)
		}, 2 * time.Second, "revocation_state_unknown"},
		{"expired", nil, `{"userId":"user_alice","ttlSeconds":2}`, func(*testing.T, *fixture, mintResponse) {}, 4 * time.Second, "session_expired"},
		{"drained", nil, `{"userId":"user_alice"}`, func(_ *testing.T, f *fixture, _ mintResponse) { f.streams.Drain() }, 2 * time.Second, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts...)
			m := f.mint(t, tt.body)
			s, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken})
			if s == nil {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			s.next(t, 5*time.Second) // the opening comment: the stream is being served
			tt.trigger(t, f, m)
			frames := s.untilEnd(t, tt.within)
			if len(frames) == 0 {
				t.Fatal("the stream ended without a word")
			}
			last := frames[len(frames)-1]
			if tt.code == "" {
				if last.Retry == "" || last.isEvent() {
					t.Errorf("last frame %+v, want retry:", last)
				}
				return
			}
			if last.Type != events.Error || last.hasID || last.errorCode(t) != tt.code {
				t.Errorf("last frame %+v, want an error event %s without an id", last, tt.code)
			}
		})
	}
}

func TestStreamRefused(t *testing.T) {
	f := newFixture(t)
	m := f.mint(t, `{"userId":"user_alice"}`)
	other := f.mint(t, `{"userId":"user_bob"}`)
	acme := f.mintIn(t, "acme", "user_carol")
	revoked := f.mint(t, `{"userId":"user_alice"}`)
	f.want204(t, f.admin(t, "demo"), sessionPath(revoked.SessionID))
	for _, tt := range []struct {
		name   string
		sid    string
		o      streamOpts
		status int
	}{
		{"another session's stream", other.SessionID, streamOpts{token: m.SessionToken}, 403},
		{"another tenant's session token", m.SessionID, streamOpts{token: acme.SessionToken}, 403},
		{"another tenant's session", acme.SessionID, streamOpts{token: m.SessionToken}, 403},
		{"no auth", m.SessionID, streamOpts{}, 401},
		{"garbage token", m.SessionID, streamOpts{token: "nope"}, 401},
		{"caller JWT", m.SessionID, streamOpts{token: strings.TrimPrefix(f.bearer(t), "Bearer ")}, 401},
		{"revoked session", revoked.SessionID, streamOpts{token: revoked.SessionToken}, 401},
		{"unknown query parameter", m.SessionID, streamOpts{token: m.SessionToken, query: "token=x"}, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, resp := f.openStream(t, tt.sid, tt.o)
			checkError(t, resp, tt.status, codeFor(tt.status))
		})
	}
}

// TestStreamResetOnLoss: a resume whose Last-Event-ID is followed by
// events the log no longer holds (its cap trimmed them) starts with
// stream.reset, no id, naming the oldest id held, then the whole log as
// held; a resume after a held id says nothing of the kind.
func TestStreamResetOnLoss(t *testing.T) {
	f := newFixture(t, withEventCap(20)) // one reply (14 events) fits, two do not
	m := f.mint(t, withIncident)
	first := f.send(t, m, "What happened?")
	firstReply := waitForReply(t, f.events, m.SessionID, first)
	second := f.send(t, m, "And then?")
	waitForReply(t, f.events, m.SessionID, second)
	held, err := f.events.Range(t.Context(), m.SessionID, "", 100)
	if err != nil || len(held) != 20 || held[0].ID == firstReply[0].ID {
		t.Fatalf("the log holds %d events (%v), want its cap of 20, the first question trimmed", len(held), err)
	}

	s, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken, lastEventID: firstReply[0].ID})
	if s == nil {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	got := s.events(t, 1+len(held))
	if reset := got[0]; reset.Type != events.StreamReset || reset.hasID || reset.Data != `{"oldestId":"`+held[0].ID+`"}` {
		t.Fatalf("first event %+v, want stream.reset without id naming %s", reset, held[0].ID)
	}
	for i, e := range held {
		if got[i+1].ID != e.ID || got[i+1].Type != e.Type {
			t.Fatalf("after the reset, event %d = %+v, want %s %s", i, got[i+1], e.ID, e.Type)
		}
	}

	s2, resp := f.openStream(t, m.SessionID, streamOpts{token: m.SessionToken, lastEventID: held[3].ID})
	if s2 == nil {
		t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	if e := s2.events(t, 1)[0]; e.ID != held[4].ID {
		t.Fatalf("a resume after a held id starts with %+v, want %s", e, held[4].ID)
	}
}
