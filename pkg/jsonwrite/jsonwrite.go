// Package jsonwrite writes the small JSON objects of the hot paths (a
// session token's claims, the mint's answer) without encoding/json's
// reflection, byte for byte as encoding/json.Marshal writes them. It only
// writes strings that need no escaping: a caller checks its values with
// Plain and falls back to encoding/json when one is not. It imports only
// the standard library, so the verifier library an edge embeds stays small.
package jsonwrite

import "strconv"

// Plain reports whether encoding/json writes s between quotes exactly as
// it is: printable ASCII other than the quote, the backslash and the three
// characters it escapes for HTML (<, > and &).
func Plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plain[s[i]] {
			return false
		}
	}
	return true
}

var plain = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// Object is a JSON object being written, member by member, in the order of
// the struct fields it stands for.
type Object struct {
	b []byte
}

// Begin starts an object in a buffer of capacity size, which should hold
// the whole object so that it is written in one allocation.
func Begin(size int) Object {
	return Object{b: append(make([]byte, 0, size), '{')}
}

func (o Object) key(k string) Object {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
	return o
}

// String writes the member k with the string v, which must be Plain, as
// must k.
func (o Object) String(k, v string) Object {
	o = o.key(k)
	o.b = append(o.b, '"')
	o.b = append(o.b, v...)
	o.b = append(o.b, '"')
	return o
}

// Int writes the member k with the integer v.
func (o Object) Int(k string, v int64) Object {
	o = o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}

// End closes the object and returns its bytes.
func (o Object) End() []byte {
	return append(o.b, '}')
}
