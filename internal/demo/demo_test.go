package demo_test

import (
	"errors"
	"testing"

	"github.com/causeflow/widget-sessions/internal/demo"
	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/incident"
)

func TestDirectory(t *testing.T) {
	f, err := directory.ParseFile(demo.Directory())
	if err != nil {
		t.Fatalf("the demo directory does not parse: %v", err)
	}
	cases := []struct {
		tenant, user string
		want         bool
	}{
		{"demo", "user_alice", true},
		{"demo", "user_bob", true},
		{"acme", "user_carol", true},
		{"demo", "user_carol", false},
		{"acme", "user_alice", false},
		{"other", "user_alice", false},
	}
	for _, tc := range cases {
		t.Run(tc.tenant+"/"+tc.user, func(t *testing.T) {
			if got, err := f.UserExists(t.Context(), tc.tenant, tc.user); got != tc.want || err != nil {
				t.Errorf("UserExists = %v, %v; want %v, nil", got, err, tc.want)
			}
		})
	}
}

func TestDirectoryReturnsACopy(t *testing.T) {
	b := demo.Directory()
	clear(b)
	if _, err := directory.ParseFile(demo.Directory()); err != nil {
		t.Errorf("changing one result changed the next: %v", err)
	}
}

func TestIncidents(t *testing.T) {
	f, err := incident.ParseFile(demo.Incidents())
	if err != nil {
		t.Fatalf("the demo incidents do not parse: %v", err)
	}
	cases := []struct {
		tenant, id, severity, status string
	}{
		{"demo", "inc_EXAMPLE_01JX", incident.SeverityHigh, incident.StatusIdentified},
		{"demo", "inc_DB_POOL_02", incident.SeverityCritical, incident.StatusInvestigating},
		{"acme", "inc_ACME_CDN_01", incident.SeverityMedium, incident.StatusMonitoring},
	}
	for _, tc := range cases {
		t.Run(tc.tenant+"/"+tc.id, func(t *testing.T) {
			inc, err := f.Incident(t.Context(), tc.tenant, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if inc.Tenant != tc.tenant || inc.Severity != tc.severity || inc.Status != tc.status ||
				len(inc.Services) == 0 || len(inc.Timeline) < 3 || inc.SuspectedCause == "" || len(inc.NextSteps) == 0 {
				t.Errorf("incident %+v is not a full demo incident", inc)
			}
		})
	}
	for _, k := range [][2]string{{"acme", "inc_EXAMPLE_01JX"}, {"demo", "inc_ACME_CDN_01"}, {"other", "inc_DB_POOL_02"}} {
		if _, err := f.Incident(t.Context(), k[0], k[1]); !errors.Is(err, incident.ErrNotFound) {
			t.Errorf("Incident(%q, %q) = %v, want ErrNotFound", k[0], k[1], err)
		}
	}
	b := demo.Incidents()
	clear(b)
	if _, err := incident.ParseFile(demo.Incidents()); err != nil {
		t.Errorf("changing one result changed the next: %v", err)
	}
}
