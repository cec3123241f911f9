package incident_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
)

func parse(t *testing.T, data incidenttest.Data) *incident.File {
	t.Helper()
	f, err := incident.ParseFile(incidenttest.Document(data))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	return f
}

func TestFileContract(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T, data incidenttest.Data) incident.Source {
		return parse(t, data)
	})
}

// valid is one incident with every member, for the cases below to break.
const valid = `{"id": "inc_1", "title": "Checkout errors", "severity": "high", "status": "identified",
  "services": ["checkout-api"], "timeline": [{"at": "2025-03-14T09:26:53Z", "text": "Alert fired"}],
  "suspectedCause": "A bad deploy", "nextSteps": ["Roll back"], "startedAt": "2025-03-14T09:20:00Z"}`

func doc(incidents ...string) string {
	return `{"tenants": {"demo": {"incidents": [` + strings.Join(incidents, ",") + `]}}}`
}

func TestParseFile(t *testing.T) {
	minimal := `{"id": "inc_2", "title": "t", "severity": "low", "status": "resolved", "startedAt": "2025-03-14T09:20:00+02:00"}`
	f, err := incident.ParseFile([]byte(doc(valid, minimal)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Incident(t.Context(), "demo", "inc_2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Tenant != "demo" || got.Services == nil || got.Timeline == nil || got.NextSteps == nil ||
		got.StartedAt.Location().String() != "UTC" || got.StartedAt.Hour() != 7 {
		t.Errorf("minimal incident = %+v; want tenant demo, empty lists, startedAt 07:20 UTC", got)
	}
	if _, err := incident.ParseFile([]byte(`{"tenants": {"empty": {"incidents": []}}}`)); err != nil {
		t.Errorf("a tenant with no incidents: %v", err)
	}
}

func TestParseFileRejects(t *testing.T) {
	with := func(old, new string) string { return doc(strings.Replace(valid, old, new, 1)) }
	cases := []struct{ name, doc, want string }{
		{"not JSON", `{`, "invalid JSON"},
		{"not an object", `[]`, "JSON object"},
		{"data after", doc(valid) + `{}`, "after"},
		{"invalid UTF-8", "{\"tenants\": {\"d\xff\": {\"incidents\": []}}}", "UTF-8"},
		{"no tenants", `{}`, "tenants"},
		{"unknown top-level member", `{"tenants": {}, "x": 1}`, "tenants"},
		{"duplicate tenant", `{"tenants": {"demo": {"incidents": []}, "demo": {"incidents": []}}}`, "more than once"},
		{"tenant id with a space", `{"tenants": {"de mo": {"incidents": []}}}`, "whitespace"},
		{"dot-dot tenant", `{"tenants": {"..": {"incidents": []}}}`, `".."`},
		{"tenant without incidents", `{"tenants": {"demo": {}}}`, "incidents"},
		{"incidents null", `{"tenants": {"demo": {"incidents": null}}}`, "array"},
		{"incidents not objects", doc(`"inc_1"`), "object"},
		{"duplicate incident", doc(valid, valid), "more than once"},
		{"tenantId in a file", with(`"id": "inc_1"`, `"id": "inc_1", "tenantId": "demo"`), "tenantId"},
		{"unknown member", with(`"id": "inc_1"`, `"id": "inc_1", "owner": "x"`), "owner"},
		{"member in another case", with(`"title"`, `"Title"`), "Title"},
		{"duplicate member", with(`"id": "inc_1"`, `"id": "inc_1", "id": "inc_3"`), "more than once"},
		{"id missing", with(`"id": "inc_1",`, ``), "id"},
		{"id empty", with(`"id": "inc_1"`, `"id": ""`), "id"},
		{"id with a space", with(`"id": "inc_1"`, `"id": "inc 1"`), "whitespace"},
		{"id dot", with(`"id": "inc_1"`, `"id": "."`), `"."`},
		{"id a number", with(`"id": "inc_1"`, `"id": 1`), "string"},
		{"title null", with(`"Checkout errors"`, `null`), "title"},
		{"title blank", with(`"Checkout errors"`, `"  "`), "title"},
		{"unknown severity", with(`"high"`, `"sev1"`), "severity"},
		{"unknown status", with(`"identified"`, `"open"`), "status"},
		{"startedAt missing", with(`, "startedAt": "2025-03-14T09:20:00Z"`, ``), "startedAt"},
		{"startedAt not RFC 3339", with(`"2025-03-14T09:20:00Z"`, `"2025-03-14 09:20"`), "startedAt"},
		{"services null", with(`["checkout-api"]`, `null`), "services"},
		{"services with null", with(`["checkout-api"]`, `["a", null]`), "services"},
		{"services with a number", with(`["checkout-api"]`, `[1]`), "services"},
		{"services with an empty name", with(`["checkout-api"]`, `[""]`), "services"},
		{"next steps not a list", with(`["Roll back"]`, `"Roll back"`), "nextSteps"},
		{"timeline entry without text", with(`, "text": "Alert fired"`, ``), "timeline[0]"},
		{"timeline entry with another member", with(`"text": "Alert fired"`, `"text": "Alert fired", "by": "x"`), "timeline[0]"},
		{"timeline entry bad time", with(`"2025-03-14T09:26:53Z"`, `"yesterday"`), "timeline[0].at"},
		{"timeline null", with(`[{"at": "2025-03-14T09:26:53Z", "text": "Alert fired"}]`, `null`), "timeline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := incident.ParseFile([]byte(tc.doc))
			if err == nil {
				t.Fatalf("ParseFile = %v, want an error", f)
			}
			if !strings.HasPrefix(err.Error(), "incident: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one starting with incident: and mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "incidents.json")
	if err := os.WriteFile(path, []byte(doc(valid)), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := incident.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Incident(t.Context(), "demo", "inc_1"); err != nil {
		t.Error(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"tenants": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := incident.LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadFile(bad) error = %v, want one naming the file", err)
	}
	if _, err := incident.LoadFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("LoadFile(missing): no error")
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "incidents.json")
	if err := os.WriteFile(path, []byte(doc(valid)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		spec string
		want string // type, "" = error
	}{
		{path, "*incident.File"},
		{"http://incidents.internal", "*incident.HTTP"},
		{"HTTPS://incidents.internal/api", "*incident.HTTP"},
		{"", ""},
		{"http://", ""},
		{filepath.Join(t.TempDir(), "missing.json"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			src, err := incident.Open(tc.spec, incident.HTTPOptions{})
			got := ""
			if err == nil {
				got = typeName(src)
			}
			if got != tc.want || (err == nil) != (tc.want != "") {
				t.Errorf("Open(%q) = %s, %v; want %s", tc.spec, got, err, tc.want)
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
