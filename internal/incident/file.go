package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/internal/strictjson"
)

// File is an incident source held in memory, read from a JSON document of
// the form
//
//	{"tenants": {"<tenantId>": {"incidents": [<incident>, ...]}}}
//
// where each incident is an object with the members of Incident except
// "tenantId", which the document's structure gives; package demo documents
// the format in full. It never changes after parsing, so it is safe for
// concurrent use.
type File struct {
	tenants map[string]map[string]Incident
}

// ParseFile parses an incident document strictly: unknown or duplicate
// members, null, wrong types, data after the document, ids the API could
// never ask for, an unknown severity or status, and an incident listed twice
// in a tenant are errors, because a mistake in an operator's file would
// otherwise show up only as "incident not found" at request time.
func ParseFile(data []byte) (*File, error) {
	f, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	return f, nil
}

// LoadFile reads and parses the incident document at path (see ParseFile).
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("incident: %w", err)
	}
	f, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("incident: %s: %w", path, err)
	}
	return f, nil
}

// Incident returns a copy of the incident id of tenant, or ErrNotFound. It
// never fails otherwise.
func (f *File) Incident(_ context.Context, tenant, id string) (Incident, error) {
	inc, ok := f.tenants[tenant][id] // indexing a nil map is fine
	if !ok {
		return Incident{}, ErrNotFound
	}
	return inc.Clone(), nil
}

func parseFile(data []byte) (*File, error) {
	// encoding/json would replace invalid UTF-8 with U+FFFD, turning an id
	// into one nobody can type.
	if !utf8.Valid(data) {
		return nil, errors.New("document is not valid UTF-8")
	}
	top, err := strictjson.Walk(data)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if len(top) != 1 || top[0].Name != "tenants" {
		return nil, errors.New(`the document must have exactly one member, "tenants"`)
	}
	tenants, err := strictjson.Walk(top[0].Value)
	if err != nil {
		return nil, fmt.Errorf(`"tenants": %w`, err)
	}
	f := &File{tenants: make(map[string]map[string]Incident, len(tenants))}
	for _, t := range tenants {
		if err := checkID(t.Name); err != nil {
			return nil, fmt.Errorf("tenant %q: tenant id %w", t.Name, err)
		}
		incidents, err := parseTenant(t.Name, t.Value)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		f.tenants[t.Name] = incidents
	}
	return f, nil
}

func parseTenant(tenant string, data []byte) (map[string]Incident, error) {
	ms, err := strictjson.Walk(data)
	if err != nil {
		return nil, err
	}
	if len(ms) != 1 || ms[0].Name != "incidents" {
		return nil, errors.New(`a tenant must have exactly one member, "incidents"`)
	}
	raw := ms[0].Value
	var elems []json.RawMessage
	// Unmarshal would take null for an empty list; a tenant without
	// incidents says so with [].
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, errors.New(`"incidents" must be an array of objects`)
	}
	incidents := make(map[string]Incident, len(elems))
	for i, e := range elems {
		inc, _, err := decodeIncident(e, false)
		if err != nil {
			return nil, fmt.Errorf("incidents[%d]: %w", i, err)
		}
		if _, dup := incidents[inc.ID]; dup {
			return nil, fmt.Errorf("incidents[%d]: id %q appears more than once", i, inc.ID)
		}
		inc.Tenant = tenant
		incidents[inc.ID] = inc
	}
	return incidents, nil
}
