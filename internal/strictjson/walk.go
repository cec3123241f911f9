package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Member is one name and value of a JSON object, in document order.
type Member struct {
	Name  string
	Value json.RawMessage
}

// Walk splits data, which must be exactly one JSON object, into its
// members, refusing a name that appears twice (encoding/json would keep the
// last one silently). Unlike ParseObject it takes any name: for documents
// whose member names are data, such as tenant ids in a configuration file.
// Its errors are plain and name no field; callers add the context.
func Walk(data []byte) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, walkSyntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("must be a JSON object")
	}
	var ms []Member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, walkSyntax(err)
		}
		name, _ := tok.(string) // inside an object this token is always a name
		if seen[name] {
			return nil, fmt.Errorf("%q appears more than once", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, walkSyntax(err)
		}
		ms = append(ms, Member{Name: name, Value: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, walkSyntax(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the object")
	}
	return ms, nil
}

// OnlyMembers refuses any member not named in allowed. Names match exactly,
// unlike encoding/json's case-insensitive field matching.
func OnlyMembers(ms []Member, allowed ...string) error {
	for _, m := range ms {
		if !contains(allowed, m.Name) {
			return fmt.Errorf("unknown member %q", m.Name)
		}
	}
	return nil
}

// MemberNamed returns the value of the member called name.
func MemberNamed(ms []Member, name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

func walkSyntax(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
