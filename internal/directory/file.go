package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/internal/strictjson"
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
	top, err := strictjson.Walk(data)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	if err := strictjson.OnlyMembers(top, "tenants"); err != nil {
		return nil, err
	}
	raw, ok := strictjson.MemberNamed(top, "tenants")
	if !ok {
		return nil, errors.New(`"tenants" is required`)
	}
	tenants, err := strictjson.Walk(raw)
	if err != nil {
		return nil, fmt.Errorf(`"tenants": %w`, err)
	}
	f := &File{tenants: make(map[string]map[string]struct{}, len(tenants))}
	for _, t := range tenants {
		if err := checkID("tenant id", t.Name); err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		users, err := parseTenant(t.Value)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		f.tenants[t.Name] = users
	}
	return f, nil
}

func parseTenant(data []byte) (map[string]struct{}, error) {
	ms, err := strictjson.Walk(data)
	if err != nil {
		return nil, err
	}
	if err := strictjson.OnlyMembers(ms, "users"); err != nil {
		return nil, err
	}
	raw, ok := strictjson.MemberNamed(ms, "users")
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
