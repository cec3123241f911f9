package incidenttest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/causeflow/widget-sessions/internal/incident"
	"github.com/causeflow/widget-sessions/internal/incident/incidenttest"
)

func TestHandler(t *testing.T) {
	f, err := incident.ParseFile(incidenttest.Document(incidenttest.Data{
		"demo": {incidenttest.Sample("inc_1"), incidenttest.Sample("a/b")},
	}))
	if err != nil {
		t.Fatal(err)
	}
	h := incidenttest.Handler(f)
	cases := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/tenants/demo/incidents/inc_1", http.StatusOK},
		{http.MethodHead, "/tenants/demo/incidents/inc_1", http.StatusOK},
		{http.MethodGet, "/tenants/demo/incidents/a%2Fb", http.StatusOK},
		{http.MethodGet, "/tenants/demo/incidents/a/b", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo/incidents/inc_2", http.StatusNotFound},
		{http.MethodGet, "/tenants/acme/incidents/inc_1", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo/incidents/", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo/users/inc_1", http.StatusNotFound},
		{http.MethodGet, "/v1/tenants/demo/incidents/inc_1", http.StatusNotFound},
		{http.MethodPost, "/tenants/demo/incidents/inc_1", http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/tenants/demo/incidents/inc_1", nil))
	var got incident.Incident
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.ID != "inc_1" || got.Tenant != "demo" {
		t.Errorf("body %s: %+v, %v", rec.Body, got, err)
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	data := incidenttest.Data{"demo": {incidenttest.Sample("inc_1")}, "empty": {}}
	f, err := incident.ParseFile(incidenttest.Document(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Incident(t.Context(), "demo", "inc_1")
	want := incidenttest.Sample("inc_1")
	want.Tenant = "demo"
	if err != nil || got.Title != want.Title || !got.StartedAt.Equal(want.StartedAt) || len(got.Timeline) != 2 {
		t.Errorf("Incident = %+v, %v; want %+v", got, err, want)
	}
}
