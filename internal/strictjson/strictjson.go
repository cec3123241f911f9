// Package strictjson reads a JSON request body that must be exactly one
// object of known members: it refuses what encoding/json quietly accepts
// (duplicate keys, where the last one would win; unknown members; data after
// the object; invalid UTF-8, which encoding/json replaces with U+FFFD; a
// number where a string is expected, or 1.5 where an integer is).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error says what is wrong with a body; Field is the member at fault, or ""
// when the body as a whole is wrong.
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func bodyErr(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Members are the members of a parsed object, in document order, each name
// once. A request's object has a few: a slice beats a map's allocation and
// hashing.
type Members []Member

// Raw returns the value of the member field.
func (m Members) Raw(field string) (json.RawMessage, bool) { return MemberNamed(m, field) }

// ParseObject parses data as one JSON object whose member names are all in
// allowed, each appearing at most once.
func ParseObject(data []byte, allowed ...string) (Members, error) {
	if m, ok := parseFlat(data, allowed); ok {
		return m, nil
	}
	return parseSlow(data, allowed)
}

// parseSlow is ParseObject on encoding/json's decoder: every rule, and a
// precise error.
func parseSlow(data []byte, allowed []string) (Members, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bodyErr("body must be a JSON object, got an empty body")
	}
	if !utf8.Valid(data) {
		return nil, bodyErr("body must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, bodyErr("body is not valid JSON: %s", syntaxMessage(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, bodyErr("body must be a JSON object")
	}
	members := make(Members, 0, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bodyErr("body is not valid JSON: %s", syntaxMessage(err))
		}
		name, _ := tok.(string) // inside an object, a token at this place is always a string key
		if _, dup := members.Raw(name); dup {
			return nil, &Error{Field: name, Message: "appears more than once"}
		}
		if !contains(allowed, name) {
			return nil, &Error{Field: name, Message: "is not a known field"}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bodyErr("body is not valid JSON: %s", syntaxMessage(err))
		}
		members = append(members, Member{Name: name, Value: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bodyErr("body is not valid JSON: %s", syntaxMessage(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bodyErr("body must hold exactly one JSON object, found data after it")
	}
	return members, nil
}

// String returns the string member field, or nil when it is absent.
// null and non-string values are errors.
func (m Members) String(field string) (*string, error) {
	raw, ok := m.Raw(field)
	if !ok {
		return nil, nil
	}
	if len(raw) == 0 || raw[0] != '"' {
		return nil, &Error{Field: field, Message: "must be a string"}
	}
	if s, ok := plainValue(raw); ok {
		return &s, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, &Error{Field: field, Message: "must be a string"}
	}
	if strings.ContainsRune(s, utf8.RuneError) && loneSurrogate(raw) {
		// encoding/json turns an unpaired \uD800-\uDFFF escape into U+FFFD
		// without a word; the caller sent something that is not text.
		return nil, &Error{Field: field, Message: "must not contain an unpaired UTF-16 surrogate escape"}
	}
	return &s, nil
}

// Int returns the integer member field, or nil when it is absent. Only an
// integer literal is accepted: 1.0, 1e3, "1" and null are errors.
func (m Members) Int(field string) (*int64, error) {
	raw, ok := m.Raw(field)
	if !ok {
		return nil, nil
	}
	if !isIntLiteral(raw) {
		return nil, &Error{Field: field, Message: "must be an integer"}
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return nil, &Error{Field: field, Message: "must be an integer within range"}
	}
	return &n, nil
}

func isIntLiteral(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// syntaxMessage keeps the decoder's description and offset but never echoes
// the body back.
func syntaxMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return "malformed"
}

// loneSurrogate reports whether a JSON string literal holds a \u escape of
// a UTF-16 surrogate that is not part of a high+low pair.
func loneSurrogate(raw []byte) bool {
	str := string(raw)
	for i := 0; i+5 < len(str); i++ {
		if str[i] == '\\' && str[i+1] == '\\' {
			i++ // an escaped backslash, not an escape
			continue
		}
		if str[i] != '\\' || str[i+1] != 'u' {
			continue
		}
		r, err := strconv.ParseUint(str[i+2:i+6], 16, 16)
		if err != nil || r < 0xD800 || r > 0xDFFF {
			continue
		}
		if r >= 0xDC00 { // a low surrogate with no high one before it
			return true
		}
		// A high surrogate must be followed at once by a low one.
		if i+11 >= len(str) || str[i+6] != '\\' || str[i+7] != 'u' {
			return true
		}
		lo, err := strconv.ParseUint(str[i+8:i+12], 16, 16)
		if err != nil || lo < 0xDC00 || lo > 0xDFFF {
			return true
		}
		i += 11
	}
	return false
}
