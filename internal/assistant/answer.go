package assistant

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/internal/incident"
)

// topic is a part of an answer about an incident.
type topic int

// Topics, in the order an answer gives them.
const (
	topicHappened topic = iota
	topicSeverity
	topicServices
	topicTimeline
	topicCause
	topicNextSteps
)

// keywords are the words of a question that ask for each topic. A question
// may ask for several; one that asks for none gets a summary.
var keywords = map[topic][]string{
	topicHappened:  {"happened", "happen", "happening", "going", "summary", "summarize", "summarise", "overview", "status", "update", "explain"},
	topicSeverity:  {"severity", "severe", "bad", "serious", "impact", "critical", "priority", "sev", "urgent"},
	topicServices:  {"service", "services", "affected", "affect", "affects", "impacted", "system", "systems", "component", "components"},
	topicTimeline:  {"timeline", "when", "history", "sequence", "chronology", "events"},
	topicCause:     {"cause", "caused", "causes", "why", "root", "reason", "because", "trigger", "triggered"},
	topicNextSteps: {"next", "do", "fix", "fixed", "step", "steps", "action", "actions", "mitigate", "mitigation", "plan", "resolve", "remediate", "should", "todo"},
}

// summary is what a question that asks for no topic in particular gets.
var summary = []topic{topicHappened, topicSeverity, topicServices, topicCause, topicNextSteps}

// Answer returns the whole answer Reply streams for req. It depends on req
// alone.
func (e *Embedded) Answer(req Request) string {
	question, earlier := lastQuestion(req.History)
	if req.Incident == nil {
		return noIncident
	}
	inc := req.Incident
	topics := asked(question)
	var b strings.Builder
	switch earlier {
	case 0:
		fmt.Fprintf(&b, "Here is what I know about **%s** (%s).\n\n", inc.Title, inc.ID)
	case 1:
		fmt.Fprintf(&b, "Following up on your earlier question about **%s** (%s):\n\n", inc.Title, inc.ID)
	default:
		fmt.Fprintf(&b, "Following up on your %d earlier questions about **%s** (%s):\n\n", earlier, inc.Title, inc.ID)
	}
	for i, t := range topics {
		if i > 0 {
			b.WriteString("\n\n")
		}
		writeTopic(&b, t, inc)
	}
	if len(topics) == len(summary) && slices.Equal(topics, summary) {
		b.WriteString("\n\nAsk me about the severity, the affected services, the timeline, the suspected cause or the next steps.")
	}
	return b.String()
}

const noIncident = "I don't have an incident attached to this session, so I can't answer from incident context. " +
	"When the widget is opened for an incident, I can tell you what happened, how severe it is and its status, " +
	"which services are affected, the timeline, the suspected cause and the next steps."

// asked returns the topics question asks for, in answer order, or the
// summary when it names none.
func asked(question string) []topic {
	ws := words(question)
	var topics []topic
	for t := topicHappened; t <= topicNextSteps; t++ {
		if slices.ContainsFunc(keywords[t], func(k string) bool { return slices.Contains(ws, k) }) {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return summary
	}
	return topics
}

func writeTopic(b *strings.Builder, t topic, inc *incident.Incident) {
	switch t {
	case topicHappened:
		fmt.Fprintf(b, "**What happened:** %s. It started %s and %s.", strings.TrimSuffix(inc.Title, "."), when(inc.StartedAt), statusPhrase(inc.Status))
		if e, ok := latest(inc.Timeline); ok {
			fmt.Fprintf(b, " Latest update (%s): %s", when(e.At), e.Text)
		}
	case topicSeverity:
		fmt.Fprintf(b, "**Severity:** %s", inc.Severity)
		if m := severityMeaning[inc.Severity]; m != "" {
			fmt.Fprintf(b, " (%s)", m)
		}
		fmt.Fprintf(b, ". Current status: **%s**.", inc.Status)
	case topicServices:
		if len(inc.Services) == 0 {
			b.WriteString("**Affected services:** none recorded yet.")
			return
		}
		names := make([]string, len(inc.Services))
		for i, s := range inc.Services {
			names[i] = "`" + s + "`"
		}
		fmt.Fprintf(b, "**Affected services (%d):** %s.", len(names), strings.Join(names, ", "))
	case topicTimeline:
		if len(inc.Timeline) == 0 {
			b.WriteString("**Timeline:** no entries recorded yet.")
			return
		}
		b.WriteString("**Timeline:**")
		for _, e := range sorted(inc.Timeline) {
			fmt.Fprintf(b, "\n- %s: %s", e.At.UTC().Format("2006-01-02 15:04 UTC"), e.Text)
		}
	case topicCause:
		if inc.SuspectedCause == "" {
			b.WriteString("**Suspected cause:** none recorded yet; the team is still investigating.")
			return
		}
		fmt.Fprintf(b, "**Suspected cause:** %s %s", inc.SuspectedCause, causeCaveat[inc.Status])
	case topicNextSteps:
		if len(inc.NextSteps) == 0 {
			b.WriteString("**Next steps:** none recorded yet.")
			return
		}
		b.WriteString("**Next steps:**")
		for i, s := range inc.NextSteps {
			fmt.Fprintf(b, "\n%d. %s", i+1, s)
		}
	}
}

var severityMeaning = map[string]string{
	incident.SeverityCritical: "a major outage or risk to data: all hands until it is mitigated",
	incident.SeverityHigh:     "significant customer impact: it has the team's immediate attention",
	incident.SeverityMedium:   "degraded service for some users",
	incident.SeverityLow:      "minor impact, handled in normal working hours",
}

var causeCaveat = map[string]string{
	incident.StatusInvestigating: "This is a hypothesis still under investigation.",
	incident.StatusIdentified:    "The team has identified this as the cause and is working on the fix.",
	incident.StatusMonitoring:    "A fix is in place and being monitored.",
	incident.StatusResolved:      "The incident is resolved.",
}

func statusPhrase(status string) string {
	switch status {
	case incident.StatusInvestigating:
		return "is still being investigated"
	case incident.StatusIdentified:
		return "its cause has been identified"
	case incident.StatusMonitoring:
		return "a fix is being monitored"
	case incident.StatusResolved:
		return "it is resolved"
	default:
		return "its status is " + status
	}
}

func when(t time.Time) string { return "at " + t.UTC().Format("15:04 UTC on 2006-01-02") }

// sorted returns the timeline oldest first, without changing the caller's.
func sorted(timeline []incident.TimelineEntry) []incident.TimelineEntry {
	s := slices.Clone(timeline)
	slices.SortStableFunc(s, func(a, b incident.TimelineEntry) int { return a.At.Compare(b.At) })
	return s
}

// latest returns the most recent entry of the timeline.
func latest(timeline []incident.TimelineEntry) (incident.TimelineEntry, bool) {
	s := sorted(timeline)
	if len(s) == 0 {
		return incident.TimelineEntry{}, false
	}
	return s[len(s)-1], true
}
