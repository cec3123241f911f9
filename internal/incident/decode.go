package incident

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/causeflow/widget-sessions/internal/strictjson"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Members of an incident object, in the order of Incident.
var incidentMembers = []string{"id", "tenantId", "title", "severity", "status", "services", "timeline", "suspectedCause", "nextSteps", "startedAt"}

// decodeIncident parses data as one incident object, strictly: unknown and
// duplicate members, null, a wrong type, a time that is not RFC 3339 and an
// incident that Validate refuses are errors. "tenantId" is refused unless
// withTenant, and returned as given ("" when absent). Lists that are absent
// come back empty, never nil.
func decodeIncident(data []byte, withTenant bool) (inc Incident, tenant string, err error) {
	allowed := incidentMembers
	if !withTenant {
		allowed = slices.DeleteFunc(slices.Clone(incidentMembers), func(s string) bool { return s == "tenantId" })
	}
	m, err := strictjson.ParseObject(data, allowed...)
	if err != nil {
		return Incident{}, "", err
	}
	// str reads one string member; after a first error it reads nothing,
	// so that error is the one reported.
	str := func(field string, required bool) string {
		if err != nil {
			return ""
		}
		var p *string
		if p, err = m.String(field); err == nil && p == nil && required {
			err = &strictjson.Error{Field: field, Message: "is required"}
		}
		if p == nil {
			return ""
		}
		return *p
	}
	inc.ID = str("id", true)
	tenant = str("tenantId", false)
	inc.Title = str("title", true)
	inc.Severity = str("severity", true)
	inc.Status = str("status", true)
	inc.SuspectedCause = str("suspectedCause", false)
	started := str("startedAt", true)
	if err != nil {
		return Incident{}, "", err
	}
	if inc.StartedAt, err = parseTime("startedAt", started); err != nil {
		return Incident{}, "", err
	}
	if inc.Services, err = stringList(m, "services"); err != nil {
		return Incident{}, "", err
	}
	if inc.NextSteps, err = stringList(m, "nextSteps"); err != nil {
		return Incident{}, "", err
	}
	if inc.Timeline, err = timeline(m); err != nil {
		return Incident{}, "", err
	}
	if err := inc.Validate(); err != nil {
		return Incident{}, "", err
	}
	return inc, tenant, nil
}

// stringList returns the array of strings m holds as field, empty when
// absent. Unmarshal alone would take null for an empty list and a null
// element for "": only an array of strings is a list of strings.
func stringList(m strictjson.Members, field string) ([]string, error) {
	raw, ok := m.Raw(field)
	if !ok {
		return []string{}, nil
	}
	bad := &strictjson.Error{Field: field, Message: "must be an array of strings"}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, bad
	}
	list := make([]string, len(elems))
	for i, e := range elems {
		if e[0] != '"' || json.Unmarshal(e, &list[i]) != nil {
			return nil, bad
		}
	}
	return list, nil
}

func timeline(m strictjson.Members) ([]TimelineEntry, error) {
	raw, ok := m.Raw("timeline")
	if !ok {
		return []TimelineEntry{}, nil
	}
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, &strictjson.Error{Field: "timeline", Message: "must be an array of objects"}
	}
	entries := make([]TimelineEntry, 0, len(elems))
	for i, e := range elems {
		field := fmt.Sprintf("timeline[%d]", i)
		em, err := strictjson.ParseObject(e, "at", "text")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		at, err1 := em.String("at")
		text, err2 := em.String("text")
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if at == nil || text == nil {
			return nil, &strictjson.Error{Field: field, Message: `needs "at" and "text"`}
		}
		t, err := parseTime(field+".at", *at)
		if err != nil {
			return nil, err
		}
		entries = append(entries, TimelineEntry{At: t, Text: *text})
	}
	return entries, nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &strictjson.Error{Field: field, Message: "must be an RFC 3339 time"}
	}
	return t.UTC(), nil
}

// checkID applies the API's rules for ids, so that an id that could never
// be asked for is caught when a file is loaded rather than never matching,
// and refuses dot segments, which the HTTP source cannot address, so that a
// File and the same data served over HTTP always agree.
func checkID(id string) error {
	if id == "." || id == ".." {
		return fmt.Errorf("must not be %q", id)
	}
	var we *widget.Error
	if err := widget.ValidateID("id", id); errors.As(err, &we) {
		return errors.New(we.Message) // the message only: a load error, not an API one
	} else if err != nil {
		return err
	}
	return nil
}
