// Package incident is the incident context a widget session can carry: what
// an incident is (title, severity, status, services, timeline, suspected
// cause, next steps), where it comes from and how it is cached.
//
// A Source answers for one tenant's incident: File, a JSON document held in
// memory (the embedded demo data, or an operator's file), and HTTP, the
// incident service reached over HTTP. Open chooses between them from the one
// configuration string, WIDGET_INCIDENTS. Service puts a source behind two
// tiers of cache: the contexts each replica holds in process, and a Cache
// the replicas share (the Redis adapter; none on the embedded default).
// Lookup is for the widget edge, Warm for the minting service.
//
// The HTTP incident protocol is a single request:
//
//	GET {base}/tenants/{tenantId}/incidents/{incidentId}
//	Accept: application/json
//	Authorization: Bearer <token>     (when a token is configured)
//
// Each id is one path segment, escaped with url.PathEscape. 200 carries the
// incident as one JSON object with the members of Incident ("tenantId" is
// optional and, when present, must be the tenant asked for); 404 means the
// incident does not exist in that tenant. Anything else, including a
// redirect or a body that is not such an object, means the source cannot
// tell. incidenttest.Handler serves this protocol from any Source.
package incident

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/internal/lookup"
)

// Sentinel errors of sources, caches and Service, for errors.Is.
var (
	// ErrNotFound means the incident does not exist in the tenant asked
	// about. The minting API answers it as 404 incident_not_found.
	ErrNotFound = errors.New("incident: not found")
	// ErrUnavailable is wrapped by every error that means "cannot tell
	// now": an unreachable or misbehaving source, an unreachable cache. It
	// must never be read as "no such incident".
	ErrUnavailable = errors.New("incident: source unavailable")
)

// Severities of an incident, most severe first.
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityMedium   = "medium"
	SeverityLow      = "low"
)

// Statuses of an incident, in the order an incident usually goes through
// them.
const (
	StatusInvestigating = "investigating"
	StatusIdentified    = "identified"
	StatusMonitoring    = "monitoring"
	StatusResolved      = "resolved"
)

// Incident is the context of one incident of a tenant, as the widget shows
// it and the assistant answers from it.
type Incident struct {
	ID     string `json:"id"`
	Tenant string `json:"tenantId"`
	Title  string `json:"title"`
	// Severity is one of the Severity constants.
	Severity string `json:"severity"`
	// Status is one of the Status constants.
	Status   string   `json:"status"`
	Services []string `json:"services"`
	// Timeline is in the order the source gave it (usually oldest first).
	Timeline []TimelineEntry `json:"timeline"`
	// SuspectedCause is "" while nobody has a hypothesis.
	SuspectedCause string    `json:"suspectedCause"`
	NextSteps      []string  `json:"nextSteps"`
	StartedAt      time.Time `json:"startedAt"`
}

// TimelineEntry is one event of an incident's timeline.
type TimelineEntry struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Clone returns a deep copy of inc: sources and caches hand out clones, so
// that a caller changing its copy cannot change what the next caller gets.
// Nil lists become empty ones, so the JSON form has [] rather than null.
func (inc Incident) Clone() Incident {
	c := inc
	c.Services = append([]string{}, inc.Services...)
	c.Timeline = append([]TimelineEntry{}, inc.Timeline...)
	c.NextSteps = append([]string{}, inc.NextSteps...)
	return c
}

// Validate checks what every source must give: an addressable id, a title,
// a known severity and status, a start time, and no empty service, timeline
// entry or next step. It does not look at Tenant, which the source sets.
func (inc Incident) Validate() error {
	var problems []string
	if err := checkID(inc.ID); err != nil {
		problems = append(problems, "id: "+err.Error())
	}
	if strings.TrimSpace(inc.Title) == "" {
		problems = append(problems, "title: must not be empty")
	}
	if !slices.Contains(severities, inc.Severity) {
		problems = append(problems, "severity: must be one of "+strings.Join(severities, ", "))
	}
	if !slices.Contains(statuses, inc.Status) {
		problems = append(problems, "status: must be one of "+strings.Join(statuses, ", "))
	}
	if inc.StartedAt.IsZero() {
		problems = append(problems, "startedAt: is required")
	}
	if slices.ContainsFunc(inc.Services, blank) {
		problems = append(problems, "services: must not hold an empty name")
	}
	if slices.ContainsFunc(inc.NextSteps, blank) {
		problems = append(problems, "nextSteps: must not hold an empty step")
	}
	for _, e := range inc.Timeline {
		if e.At.IsZero() || blank(e.Text) {
			problems = append(problems, "timeline: every entry needs a time and a text")
			break
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

var (
	severities = []string{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}
	statuses   = []string{StatusInvestigating, StatusIdentified, StatusMonitoring, StatusResolved}
)

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// Source answers for the incidents of every tenant.
type Source interface {
	// Incident returns the incident id of tenant, with Tenant set to
	// tenant. It returns ErrNotFound when no such incident exists in that
	// tenant (an incident of another tenant does not exist in this one),
	// and an error wrapping ErrUnavailable when it cannot tell, never
	// ErrNotFound then.
	Incident(ctx context.Context, tenant, id string) (Incident, error)
}

// Cache remembers incident contexts, keyed by tenant and id.
type Cache interface {
	// Get returns the incident remembered for tenant and id, what remains
	// of its TTL, and whether there is one. An error (wrapping
	// ErrUnavailable) means the cache cannot answer; it is never a miss in
	// disguise.
	Get(ctx context.Context, tenant, id string) (inc Incident, ttl time.Duration, ok bool, err error)
	// Put remembers inc for tenant and id for ttl, which must be positive.
	Put(ctx context.Context, tenant, id string, inc Incident, ttl time.Duration) error
}

// Open returns the source spec names: an http:// or https:// URL is the base
// of an HTTP source configured by opts, anything else the path of a file for
// LoadFile (opts then do not apply). An empty spec is an error: see
// lookup.Open.
func Open(spec string, opts HTTPOptions) (Source, error) {
	return lookup.Open("incident", spec,
		func(base string) (Source, error) { return NewHTTP(base, opts) },
		func(path string) (Source, error) { return LoadFile(path) })
}
