// Package demo holds the data the service runs on when nothing else is
// configured, so that `make run` works on a fresh checkout. It is compiled
// into the binary; the configuration refuses it in the live environment.
//
// # User directory
//
// Directory returns a user directory in the file format that
// WIDGET_DIRECTORY also accepts, so an operator can start from a copy of
// directory.json:
//
//	{
//	  "tenants": {
//	    "demo": {"users": ["user_alice", "user_bob"]},
//	    "acme": {"users": ["user_carol"]}
//	  }
//	}
//
// The file is one JSON object with a single member, "tenants", mapping each
// tenant id to an object with a single member, "users": the ids of that
// tenant's users, an array of strings (possibly empty). A tenant is an
// object rather than a bare array so that it can gain members later without
// a new format. The parser is strict, because a typo in this file would
// otherwise surface only as "user not found" at request time:
//
//   - unknown members and duplicate names are rejected (with duplicates,
//     encoding/json would keep the last tenant and silently drop the users
//     of the first);
//   - tenant and user ids must be non-empty, at most 128 characters, valid
//     UTF-8 and free of whitespace and control characters (the rules the API
//     applies to a userId, so an id that breaks them could never be asked
//     for), and must not be "." or "..", which no path-addressed HTTP
//     directory can carry;
//   - ids are case-sensitive, and a user exists only in the tenant that
//     lists it. The same id may appear in several tenants as distinct users.
//
// # Incidents
//
// Incidents returns the incident contexts of the demo tenants in the file
// format that WIDGET_INCIDENTS also accepts (see incidents.json):
//
//	{
//	  "tenants": {
//	    "demo": {"incidents": [
//	      {"id": "inc_EXAMPLE_01JX", "title": "...", "severity": "high",
//	       "status": "identified", "services": ["checkout-api"],
//	       "timeline": [{"at": "2025-06-12T14:05:00Z", "text": "..."}],
//	       "suspectedCause": "...", "nextSteps": ["..."],
//	       "startedAt": "2025-06-12T14:05:00Z"}
//	    ]}
//	  }
//	}
//
// Each tenant is an object with a single member, "incidents", an array
// (possibly empty) of incident objects. An incident has the members of
// incident.Incident except "tenantId", which its place in the document
// gives: "id", "title", "severity" (critical, high, medium, low), "status"
// (investigating, identified, monitoring, resolved) and "startedAt" (RFC
// 3339) are required; "services" and "nextSteps" (arrays of non-empty
// strings), "timeline" (an array of {"at", "text"}) and "suspectedCause"
// are optional. The parser is as strict as the directory's: unknown or
// duplicate members, null, wrong types, an unknown severity or status, an
// incident listed twice in a tenant, and ids that break the API's rules or
// are "." or ".." are errors. An incident exists only in the tenant that
// lists it.
package demo

import _ "embed" // for go:embed

// directoryJSON is a string rather than a []byte so that Directory can hand
// out a fresh copy: an embedded []byte is shared and a caller could alter it.
//
//go:embed directory.json
var directoryJSON string

// Directory returns the demo user directory: tenant "demo" with users
// "user_alice" and "user_bob", tenant "acme" with user "user_carol". Each
// call returns a new slice.
func Directory() []byte { return []byte(directoryJSON) }

//go:embed incidents.json
var incidentsJSON string

// Incidents returns the demo incident contexts: for tenant "demo",
// "inc_EXAMPLE_01JX" (checkout-api 5xx after a deploy, high, identified)
// and "inc_DB_POOL_02" (payments database pool exhausted, critical,
// investigating); for tenant "acme", "inc_ACME_CDN_01" (stale CDN assets,
// medium, monitoring). Each call returns a new slice.
func Incidents() []byte { return []byte(incidentsJSON) }
