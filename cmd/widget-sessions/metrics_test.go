package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// TestOperatorMetrics: what an operator watches is on /metrics, counted as
// it happens: open streams and how they ended, stream tickets, revocations
// by kind and result, the assistant's replies and deltas, and every Redis
// command.
func TestOperatorMetrics(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	c := newCluster(t, rds.URL(), nil)
	s := startServer(t, c.env)
	admin := c.caller(t, "demo", "admin")
	sess := s.mintCreated(t, admin, readmeBody)
	client := streamClient(t)

	st := mustOpenStream(t, client, s.streamURL(sess.SessionID)+"?ticket="+s.ticket(t, sess.SessionID, sess.SessionToken), nil)
	id := s.mustSend(t, sess.SessionID, sess.SessionToken, causeQuestion)
	st.until(t, streamWait, replyEnded(t, id))
	metrics := func() string { return string(s.get(t, s.internal+"/metrics").body) }
	if m := metrics(); !strings.Contains(m, "widget_sessions_streams_open 1\n") {
		t.Errorf("/metrics lacks one open stream:\n%s", grepMetrics(m, "streams_open"))
	}
	if r := s.revoke(t, admin, "/v1/widget/sessions/"+sess.SessionID); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	st.until(t, streamWait, func(e sseEvent) bool { return e.Type == "error" })
	if r := s.revoke(t, admin, "/v1/widget/tenants/acme/sessions"); r.status != http.StatusForbidden {
		t.Fatalf("revoking another tenant: %d, want 403", r.status)
	}

	// The stream's end is counted as its handler returns: wait for it
	// (the checks below say what is missing if it never comes).
	var m string
	wait.Poll(wait.Limit, func() bool {
		m = metrics()
		return strings.Contains(m, `widget_sessions_stream_ends_total{reason="session_revoked"} 1`)
	})
	for _, want := range []string{
		"widget_sessions_streams_open 0\n",
		`widget_sessions_stream_ends_total{reason="session_revoked"} 1`,
		`widget_sessions_stream_tickets_total{result="issued"} 1`,
		`widget_sessions_revocations_total{kind="session",result="revoked"} 1`,
		`widget_sessions_revocations_total{kind="tenant",result="forbidden"} 1`,
		`widget_sessions_assistant_reply_duration_seconds_count{result="completed"} 1`,
		`widget_sessions_assistant_first_delta_seconds_count 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !regexp.MustCompile(`widget_sessions_assistant_deltas_total [1-9]`).MatchString(m) {
		t.Error("/metrics counts no assistant deltas")
	}
	if !regexp.MustCompile(`widget_sessions_redis_command_duration_seconds_count\{command="(eval|evalsha)"\} [1-9]`).MatchString(m) {
		t.Errorf("/metrics times no revocation script on Redis:\n%s", grepMetrics(m, "redis_command_duration_seconds_count"))
	}
}

// grepMetrics returns the lines of m that mention name.
func grepMetrics(m, name string) string {
	var out []string
	for line := range strings.Lines(m) {
		if strings.Contains(line, name) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
