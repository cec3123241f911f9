package main

import (
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestEdgeGracefulShutdown stops a replica while a widget streams from it,
// in the middle of an answer another replica is producing: the stream is
// told to reconnect ("retry:") and ends cleanly, run returns nil (the
// shutdown did not have to wait out its timeout for a stream that never
// ends), and the client, resuming on the other replica with its
// Last-Event-ID, loses nothing and sees nothing twice.
func TestEdgeGracefulShutdown(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	c := newCluster(t, rds.URL(), nil)
	a, b := startServer(t, c.env), startServer(t, c.env)
	sess := b.mintCreated(t, c.caller(t, "demo", "admin"), readmeBody)
	sid, auth := sess.SessionID, bearer(sess.SessionToken)
	client := streamClient(t)

	st := mustOpenStream(t, client, a.streamURL(sid), auth)
	// B takes the message, so the answer goes on while A shuts down.
	id := b.mustSend(t, sid, sess.SessionToken, causeQuestion)
	before := st.events(t, 3, streamWait)

	stopping := time.Now()
	a.stop(t) // fails the test unless run returns nil: no shutdown timeout hit
	t.Logf("run returned %v after the cancel (WIDGET_SHUTDOWN_TIMEOUT %s)", time.Since(stopping), a.env["WIDGET_SHUTDOWN_TIMEOUT"])
	rest := st.rest(t, streamWait)
	if st.err != nil {
		t.Fatalf("the stream ended with a read error %v, want a clean end", st.err)
	}
	if len(rest) == 0 || rest[len(rest)-1].Retry == "" {
		t.Fatalf("the stream ended with %s, want a retry field last", summary(rest))
	}
	for _, e := range rest[:len(rest)-1] {
		if e.isEvent() {
			if e.Type == "error" {
				t.Fatalf("the stream got an error event on shutdown: %s", e.Data)
			}
			before = append(before, e)
		}
	}
	t.Logf("A's stream: %d events, then retry: %s ms and the end", len(before), rest[len(rest)-1].Retry)

	// The client comes back, as EventSource does, on the other replica.
	resumed := mustOpenStream(t, client, b.streamURL(sid),
		map[string]string{"Authorization": auth["Authorization"], "Last-Event-ID": before[len(before)-1].ID})
	var after []sseEvent
	if ended := replyEnded(t, id); !ended(before[len(before)-1]) {
		after = resumed.until(t, streamWait, ended)
	} else {
		// Only on a very slow machine: nothing was left to resume.
		t.Log("the answer had ended before A stopped: the resume had nothing to read")
	}
	fresh := mustOpenStream(t, client, b.streamURL(sid), auth)
	full := fresh.until(t, streamWait, replyEnded(t, id))
	checkReply(t, full, id, causeQuestion)
	sameSequence(t, append(before, after...), full)
}
