package assistant_test

import (
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/assistant"
	"github.com/causeflow/widget-sessions/internal/demo"
	"github.com/causeflow/widget-sessions/internal/incident"
)

func demoIncident(t *testing.T, id string) *incident.Incident {
	t.Helper()
	f, err := incident.ParseFile(demo.Incidents())
	if err != nil {
		t.Fatal(err)
	}
	inc, err := f.Incident(t.Context(), "demo", id)
	if err != nil {
		t.Fatal(err)
	}
	return &inc
}

func ask(inc *incident.Incident, questions ...string) assistant.Request {
	req := assistant.Request{Incident: inc}
	for i, q := range questions {
		if i > 0 {
			req.History = append(req.History, assistant.Message{Role: assistant.RoleAssistant, Content: "an earlier answer"})
		}
		req.History = append(req.History, assistant.Message{Role: assistant.RoleUser, Content: q})
	}
	return req
}

// collect runs Reply and returns the deltas it emitted.
func collect(t *testing.T, a *assistant.Embedded, req assistant.Request) []string {
	t.Helper()
	var deltas []string
	if err := a.Reply(t.Context(), req, func(d string) error { deltas = append(deltas, d); return nil }); err != nil {
		t.Fatalf("Reply: %v", err)
	}
	return deltas
}

func TestRouting(t *testing.T) {
	inc := demoIncident(t, "inc_EXAMPLE_01JX")
	const (
		happened = "**What happened:**"
		severity = "**Severity:**"
		services = "**Affected services"
		timeline = "**Timeline:**"
		cause    = "**Suspected cause:**"
		next     = "**Next steps:**"
		hint     = "Ask me about"
	)
	all := []string{happened, severity, services, timeline, cause, next, hint}
	cases := []struct {
		question string
		want     []string // the sections present; all others absent
	}{
		{"What happened?", []string{happened}},
		{"what's going on", []string{happened}},
		{"How severe is this?", []string{severity}},
		{"What's the impact?", []string{severity}},
		{"Which services are affected?", []string{services}},
		{"When did it start? Show me the timeline", []string{timeline}},
		{"Why?", []string{cause}},
		{"What is the root cause", []string{cause}},
		{"What should we do next?", []string{next}},
		{"how do we fix it", []string{next}},
		{"Why did it happen and what's the fix?", []string{happened, cause, next}},
		{"WHY", []string{cause}},
		{"downtime document", []string{happened, severity, services, cause, next, hint}}, // "do" only as a word
		{"hello", []string{happened, severity, services, cause, next, hint}},
		{"", []string{happened, severity, services, cause, next, hint}},
	}
	a := assistant.NewEmbedded(0)
	for _, tc := range cases {
		t.Run(tc.question, func(t *testing.T) {
			answer := a.Answer(ask(inc, tc.question))
			for _, s := range all {
				want := false
				for _, w := range tc.want {
					want = want || w == s
				}
				if got := strings.Contains(answer, s); got != want {
					t.Errorf("section %q present = %v, want %v, in:\n%s", s, got, want, answer)
				}
			}
			if !strings.Contains(answer, inc.Title) || !strings.Contains(answer, inc.ID) {
				t.Errorf("answer does not name the incident:\n%s", answer)
			}
		})
	}
}

func TestAnswerContent(t *testing.T) {
	inc := demoIncident(t, "inc_DB_POOL_02")
	a := assistant.NewEmbedded(0)
	cases := []struct {
		question string
		want     []string
	}{
		{"what happened", []string{"Payments database connection pool exhausted", "still being investigated", "08:41 UTC on 2025-06-13", "Latest update (at 08:58 UTC on 2025-06-13): refunds-worker scaled to zero"}},
		{"severity?", []string{"critical", "all hands", "**investigating**"}},
		{"affected services", []string{"(3):** `payments-db`, `payments-api`, `refunds-worker`."}},
		{"timeline", []string{"- 2025-06-13 08:41 UTC: Alert", "- 2025-06-13 08:58 UTC: refunds-worker scaled to zero"}},
		{"why", []string{inc.SuspectedCause, "hypothesis still under investigation"}},
		{"next steps", []string{"1. " + inc.NextSteps[0], "4. " + inc.NextSteps[3]}},
	}
	for _, tc := range cases {
		t.Run(tc.question, func(t *testing.T) {
			answer := a.Answer(ask(inc, tc.question))
			for _, w := range tc.want {
				if !strings.Contains(answer, w) {
					t.Errorf("answer lacks %q:\n%s", w, answer)
				}
			}
		})
	}
}

func TestConversation(t *testing.T) {
	inc := demoIncident(t, "inc_EXAMPLE_01JX")
	a := assistant.NewEmbedded(0)
	cases := []struct {
		req  assistant.Request
		want string
	}{
		{ask(inc, "why"), "Here is what I know about"},
		{ask(inc, "hi", "why"), "Following up on your earlier question about"},
		{ask(inc, "hi", "what happened", "severity", "why"), "Following up on your 3 earlier questions about"},
		// The last message is not the user's: there is no new question, so
		// a summary, counting every question asked.
		{assistant.Request{Incident: inc, History: []assistant.Message{{Role: assistant.RoleUser, Content: "why"}, {Role: assistant.RoleAssistant, Content: "x"}}},
			"Following up on your earlier question"},
		{assistant.Request{Incident: inc}, "Here is what I know about"},
	}
	for _, tc := range cases {
		if answer := a.Answer(tc.req); !strings.HasPrefix(answer, tc.want) {
			t.Errorf("answer starts %.60q, want %q", answer, tc.want)
		}
	}
}

func TestNoIncident(t *testing.T) {
	a := assistant.NewEmbedded(0)
	for _, q := range []string{"What happened?", "why", "hello"} {
		answer := a.Answer(ask(nil, q))
		if !strings.Contains(answer, "don't have an incident") || !strings.Contains(answer, "suspected cause") {
			t.Errorf("answer to %q without an incident:\n%s", q, answer)
		}
		if deltas := collect(t, a, ask(nil, q)); len(deltas) < 5 || strings.Join(deltas, "") != answer {
			t.Errorf("%d deltas, joined equal to the answer: %v", len(deltas), strings.Join(deltas, "") == answer)
		}
	}
}

// TestSparseIncident: an incident with no optional members gets an answer
// that says so rather than empty sections.
func TestSparseIncident(t *testing.T) {
	inc := &incident.Incident{ID: "inc_new", Tenant: "demo", Title: "Something is off", Severity: "low", Status: "investigating",
		StartedAt: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)}
	answer := assistant.NewEmbedded(0).Answer(ask(inc, "services, timeline, cause and next steps?"))
	for _, w := range []string{"**Affected services:** none recorded yet.", "**Timeline:** no entries recorded yet.",
		"**Suspected cause:** none recorded yet", "**Next steps:** none recorded yet."} {
		if !strings.Contains(answer, w) {
			t.Errorf("answer lacks %q:\n%s", w, answer)
		}
	}
}

// TestTimelineOrder: entries are told oldest first whatever the order
// given, and the caller's incident is left as it was.
func TestTimelineOrder(t *testing.T) {
	inc := demoIncident(t, "inc_EXAMPLE_01JX")
	inc.Timeline[0], inc.Timeline[5] = inc.Timeline[5], inc.Timeline[0]
	first := inc.Timeline[0].Text
	answer := assistant.NewEmbedded(0).Answer(ask(inc, "timeline"))
	if strings.Index(answer, "deployed to production") > strings.Index(answer, "Rollback to v2.40.3") {
		t.Errorf("timeline not oldest first:\n%s", answer)
	}
	if inc.Timeline[0].Text != first {
		t.Error("Answer reordered the caller's timeline")
	}
	if !strings.Contains(assistant.NewEmbedded(0).Answer(ask(inc, "what happened")), "Latest update (at 14:27") {
		t.Error("the latest update is not the most recent entry")
	}
}
