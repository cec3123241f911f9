package incident_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
)

// TestJSON pins the wire form the widget reads: member names, RFC 3339
// times, and [] rather than null for empty lists.
func TestJSON(t *testing.T) {
	inc := incidenttest.Sample("inc_1")
	inc.Tenant = "demo"
	b, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"inc_1"`, `"tenantId":"demo"`, `"severity":"high"`, `"status":"identified"`,
		`"services":["svc-inc_1","gateway"]`, `"timeline":[{"at":"2025-03-14T09:26:53.589793Z","text":"Alert fired for inc_1"}`,
		`"suspectedCause":"A bad deploy of inc_1"`, `"nextSteps":["Roll back"`, `"startedAt":"2025-03-14T09:26:53.589793Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON %s lacks %s", b, want)
		}
	}
	empty, _ := json.Marshal(incident.Incident{}.Clone())
	for _, want := range []string{`"services":[]`, `"timeline":[]`, `"nextSteps":[]`} {
		if !strings.Contains(string(empty), want) {
			t.Errorf("JSON of a clone %s lacks %s", empty, want)
		}
	}
}

func TestClone(t *testing.T) {
	a := incidenttest.Sample("inc_1")
	b := a.Clone()
	b.Services[0], b.Timeline[0].Text, b.NextSteps[0] = "x", "x", "x"
	if a.Services[0] == "x" || a.Timeline[0].Text == "x" || a.NextSteps[0] == "x" {
		t.Errorf("changing a clone changed the original: %+v", a)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(*incident.Incident)
		want   string // "" = valid
	}{
		{"sample", func(*incident.Incident) {}, ""},
		{"no optional members", func(i *incident.Incident) {
			i.Services, i.Timeline, i.NextSteps, i.SuspectedCause = nil, nil, nil, ""
		}, ""},
		{"every severity", func(i *incident.Incident) { i.Severity = incident.SeverityCritical }, ""},
		{"every status", func(i *incident.Incident) { i.Status = incident.StatusMonitoring }, ""},
		{"empty id", func(i *incident.Incident) { i.ID = "" }, "id"},
		{"dot-dot id", func(i *incident.Incident) { i.ID = ".." }, "id"},
		{"id with a newline", func(i *incident.Incident) { i.ID = "a\nb" }, "id"},
		{"blank title", func(i *incident.Incident) { i.Title = " " }, "title"},
		{"severity in capitals", func(i *incident.Incident) { i.Severity = "HIGH" }, "severity"},
		{"unknown status", func(i *incident.Incident) { i.Status = "open" }, "status"},
		{"no start", func(i *incident.Incident) { i.StartedAt = time.Time{} }, "startedAt"},
		{"empty service", func(i *incident.Incident) { i.Services = append(i.Services, "") }, "services"},
		{"empty step", func(i *incident.Incident) { i.NextSteps = []string{" "} }, "nextSteps"},
		{"timeline entry without a time", func(i *incident.Incident) { i.Timeline[1].At = time.Time{} }, "timeline"},
		{"timeline entry without a text", func(i *incident.Incident) { i.Timeline[0].Text = "" }, "timeline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inc := incidenttest.Sample("inc_1")
			tc.change(&inc)
			err := inc.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want an error about %s", err, tc.want)
			}
		})
	}
}
