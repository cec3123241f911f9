package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// File is a user directory held in memory, read from a JSON document of the
// form {"tenants": {"<tenantId>": {"users": ["<userId>", ...]}}}; package
// demo documents the format in full. It never changes after parsing, so it
// is safe for concurrent use.
type File struct {
	tenants map[string]map[string]struct{}
}

// ParseFile parses a directory document strictly: unknown or duplicate
// members, data after the document and ids the API could never ask for are
// errors, because a mistake in an operator's file would otherwise show up
// only as "user not found" at request time.
func ParseFile(data []byte) (*File, error) {
	f, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return f, nil
}

// LoadFile reads and parses the directory document at path (see ParseFile).
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	f, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("directory: %s: %w", path, err)
	}
	return f, nil
}

// UserExists reports whether userID is listed under tenant. It never fails.
func (f *File) UserExists(_ context.Context, tenant, userID string) (bool, error) {
	_, ok := f.tenants[tenant][userID] // indexing a nil map is fine
	return ok, nil
}

func parseFile(data []byte) (*File, error) {
	// encoding/json would replace invalid UTF-8 with U+FFFD, turning an id
	// into one nobody can type.
	if !utf8.Valid(data) {
		return nil, errors.New("document is not valid UTF-8")
	}
	top, err := objectMembers(data)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if err := onlyMembers(top, "tenants"); err != nil {
		return nil, err
	}
	raw, ok := memberNamed(top, "tenants")
	if !ok {
		return nil, errors.New(`"tenants" is required`)
	}
	tenants, err := objectMembers(raw)
	if err != nil {
		return nil, fmt.Errorf(`"tenants": %w`, err)
	}
	f := &File{tenants: make(map[string]map[string]struct{}, len(tenants))}
	for _, t := range tenants {
		if err := checkID("tenant id", t.name); err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.name, err)
		}
		users, err := parseTenant(t.value)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.name, err)
		}
		f.tenants[t.name] = users
	}
	return f, nil
}

func parseTenant(data []byte) (map[string]struct{}, error) {
	ms, err := objectMembers(data)
	if err != nil {
		return nil, err
	}
	if err := onlyMembers(ms, "users"); err != nil {
		return nil, err
	}
	raw, ok := memberNamed(ms, "users")
	if !ok {
		return nil, errors.New(`"users" is required`)
	}
	// Unmarshal would take null for an empty list; a tenant without users
	// says so with [].
	var ids []string
	if raw[0] != '[' || json.Unmarshal(raw, &ids) != nil {
		return nil, errors.New(`"users" must be an array of strings`)
	}
	users := make(map[string]struct{}, len(ids))
	for i, id := range ids {
		if err := checkID("user id", id); err != nil {
			return nil, fmt.Errorf("users[%d] %q: %w", i, id, err)
		}
		// A repeated user is harmless (a set is a set), so it is not an
		// error, unlike a repeated tenant, which would lose users.
		users[id] = struct{}{}
	}
	return users, nil
}

// checkID applies the API's rules for ids, so that an id with, say, a
// trailing space is caught when the file is loaded rather than never
// matching; and it refuses dot segments, which the HTTP directory cannot
// address (see lookup.Addressable), so that a File and the same data served over
// HTTP always agree.
func checkID(kind, id string) error {
	if id == "." || id == ".." {
		return fmt.Errorf("%s must not be %q", kind, id)
	}
	var we *widget.Error
	if err := widget.ValidateID(kind, id); errors.As(err, &we) {
		return errors.New(we.Message) // the message only: this is a load error, not an API one
	} else if err != nil {
		return err
	}
	return nil
}

// member is one name and value of a JSON object, in document order.
type member struct {
	name  string
	value json.RawMessage
}

// objectMembers splits data, which must be exactly one JSON object, into its
// members, refusing a name that appears twice: encoding/json would keep the
// last one silently. pkg/strictjson does the same for request bodies, but it
// needs the allowed names up front, and tenant ids are data.
func objectMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("must be a JSON object")
	}
	var ms []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		name, _ := tok.(string) // inside an object this token is always a name
		if seen[name] {
			return nil, fmt.Errorf("%q appears more than once", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err)
		}
		ms = append(ms, member{name: name, value: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the object")
	}
	return ms, nil
}

// onlyMembers refuses any member not named in allowed. Names match exactly,
// unlike encoding/json's case-insensitive field matching.
func onlyMembers(ms []member, allowed ...string) error {
	for _, m := range ms {
		known := false
		for _, a := range allowed {
			known = known || m.name == a
		}
		if !known {
			return fmt.Errorf("unknown member %q", m.name)
		}
	}
	return nil
}

func memberNamed(ms []member, name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}

func syntaxError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
