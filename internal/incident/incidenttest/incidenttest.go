// Package incidenttest helps test incident sources and caches: Run is the
// contract every incident.Source must meet, RunCache the one every
// incident.Cache must meet, Handler serves any source over the HTTP
// incident protocol, and Document writes data in the file format, so that a
// test can stand up a File or a remote source in a line.
package incidenttest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/internal/incident"
)

// Data is what a test source holds: tenant id → its incidents (Tenant
// unset: the map gives it).
type Data map[string][]incident.Incident

// Sample returns a realistic incident with id id, different for each id so
// that an implementation returning the wrong one is caught.
func Sample(id string) incident.Incident {
	start := time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
	return incident.Incident{
		ID:       id,
		Title:    "Elevated errors on " + id,
		Severity: incident.SeverityHigh,
		Status:   incident.StatusIdentified,
		Services: []string{"svc-" + id, "gateway"},
		Timeline: []incident.TimelineEntry{
			{At: start, Text: "Alert fired for " + id},
			{At: start.Add(7 * time.Minute), Text: "Cause identified"},
		},
		SuspectedCause: "A bad deploy of " + id,
		NextSteps:      []string{"Roll back", "Watch the error rate"},
		StartedAt:      start,
	}
}

// contractData is what Run asks newSource to hold. It includes a tenant
// with no incidents, an incident whose optional members are empty, and ids
// with characters that mean something in a URL path, a query, an escape or
// a Redis key, so that an implementation that builds paths or keys
// carelessly answers with the wrong incident.
func contractData() Data {
	minimal := incident.Incident{
		ID: "inc_min", Title: "Minimal", Severity: incident.SeverityLow, Status: incident.StatusResolved,
		Services: []string{}, Timeline: []incident.TimelineEntry{}, NextSteps: []string{},
		StartedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	odd := []string{"../x", "a/b", "a%2Fb", "a?b#c", "a+b", "...", "%", "a;b", "ünï", "a:b", "a|b", "{x}"}
	data := Data{
		"demo":  {Sample("inc_1"), Sample("inc_2"), minimal},
		"acme":  {Sample("inc_acme")},
		"empty": {},
		"t/x":   {Sample("u")},
		"odd":   {},
	}
	for _, id := range odd {
		data["odd"] = append(data["odd"], Sample(id))
	}
	return data
}

// Document returns data in the file format of incident.ParseFile.
func Document(data Data) []byte {
	type tenant struct {
		Incidents []json.RawMessage `json:"incidents"`
	}
	doc := struct {
		Tenants map[string]tenant `json:"tenants"`
	}{Tenants: map[string]tenant{}}
	for name, incs := range data {
		t := tenant{Incidents: []json.RawMessage{}}
		for _, inc := range incs {
			t.Incidents = append(t.Incidents, withoutTenant(inc))
		}
		doc.Tenants[name] = t
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // cannot happen: every value is a plain string or list
	}
	return b
}

// withoutTenant encodes inc without its "tenantId" member.
func withoutTenant(inc incident.Incident) json.RawMessage {
	var m map[string]json.RawMessage
	b, _ := json.Marshal(inc)
	_ = json.Unmarshal(b, &m)
	delete(m, "tenantId")
	b, _ = json.Marshal(m)
	return b
}

// Handler serves src over the HTTP incident protocol: GET (or HEAD)
// /tenants/{tenantId}/incidents/{incidentId} answers 200 with the incident
// (tenantId included), 404 when src says incident.ErrNotFound or the path is
// not of that form, and 503 when src fails otherwise.
//
// It splits the escaped path itself rather than using http.ServeMux, which
// cleans paths: "..%2Fx" must reach src as the id "../x", not be resolved.
func Handler(src incident.Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed"})
			return
		}
		tenant, id, ok := parsePath(r.URL.EscapedPath())
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
			return
		}
		inc, err := src.Incident(r.Context(), tenant, id)
		switch {
		case errors.Is(err, incident.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "incident_not_found"})
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "dependency_unavailable"})
		default:
			writeJSON(w, http.StatusOK, inc)
		}
	})
}

// parsePath reads the two ids out of /tenants/{tenantId}/incidents/{id},
// unescaping each segment on its own.
func parsePath(escaped string) (tenant, id string, ok bool) {
	seg := strings.Split(escaped, "/")
	if len(seg) != 5 || seg[0] != "" || seg[1] != "tenants" || seg[3] != "incidents" {
		return "", "", false
	}
	tenant, err1 := url.PathUnescape(seg[2])
	id, err2 := url.PathUnescape(seg[4])
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return tenant, id, true
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

// same reports whether a and b are the same incident, by their JSON form
// (times compared as instants written in UTC).
func same(a, b incident.Incident) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
