// Package jsonwrite writes the small JSON objects of the hot paths (a
// session token's claims, the mint's answer) without encoding/json's
// reflection, byte for byte as encoding/json.Marshal writes them. It only
// writes strings that need no escaping: a caller checks its values with
// Plain and falls back to encoding/json when one is not. It imports only
// the standard library, so the verifier library an edge embeds stays small.
package jsonwrite

import (
	"slices"
	"strconv"
	"sync"
)

// Plain reports whether encoding/json writes s between quotes exactly as
// it is: printable ASCII other than the quote, the backslash and the three
// characters it escapes for HTML (<, > and &). It reads eight bytes at a
// time: a session token, 400 bytes and more, is checked on every mint.
func Plain(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56 // one load
		if !plainWord(w) {
			return false
		}
	}
	for ; i < len(s); i++ {
		if !plain[s[i]] {
			return false
		}
	}
	return true
}

// plainWord reports whether each byte of w is plain, by the bit tricks of
// "Bit Twiddling Hacks" (haszero, hasless, hasmore): a byte's high bit in
// a mask marks it.
func plainWord(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) &^ x & highs }
	bad := zero(w^(ones*'"')) | zero(w^(ones*'\\')) | zero(w^(ones*'<')) | zero(w^(ones*'>')) | zero(w^(ones*'&')) |
		(w-ones*0x20)&^w&highs | // a byte under 0x20
		(w+ones*(0x7f-0x7e)|w)&highs // a byte over 0x7e
	return bad == 0
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

// PlainHTML reports whether s is printable ASCII other than the quote and
// the backslash: Plain, but for <, > and &, which StringHTML writes as
// encoding/json does (\u003c, \u003e, \u0026). A URL with a query is such
// a string.
func PlainHTML(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Object is a JSON object being written, member by member, in the order of
// the struct fields it stands for.
type Object struct {
	b     []byte
	first bool // no member written yet
	omit  bool // skip empty members
}

// Append starts an object at the end of dst, growing it to hold size more
// bytes: the whole object, so that it is written without growing again.
func Append(dst []byte, size int) Object {
	return Object{b: append(slices.Grow(dst, size), '{'), first: true}
}

// Borrow returns an empty buffer for bytes that are copied out as soon as
// they are written, such as a response body or a payload being signed;
// Return gives it back once nothing refers to them. A mint writes two
// objects: reused buffers spare the collector a kilobyte per mint.
func Borrow() *[]byte { return buffers.Get().(*[]byte) }

// Return puts b back for another Borrow, keeping its capacity unless it
// grew past what a usual object takes.
func Return(b *[]byte) {
	if cap(*b) > 16<<10 {
		return
	}
	*b = (*b)[:0]
	buffers.Put(b)
}

var buffers = sync.Pool{New: func() any { return new([]byte) }}

func (o Object) key(k string) Object {
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
	return o
}

// String writes the member k with the string v, which must be Plain, as
// must k.
func (o Object) String(k, v string) Object {
	if o.omit && v == "" {
		return o
	}
	o = o.key(k)
	o.b = append(o.b, '"')
	o.b = append(o.b, v...)
	o.b = append(o.b, '"')
	return o
}

// StringHTML writes the member k with the string v, which must be
// PlainHTML (k Plain), escaping <, > and & as encoding/json does.
func (o Object) StringHTML(k, v string) Object {
	if o.omit && v == "" {
		return o
	}
	o = o.key(k)
	o.b = append(o.b, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '<':
			o.b = append(o.b, `\u003c`...)
		case '>':
			o.b = append(o.b, `\u003e`...)
		case '&':
			o.b = append(o.b, `\u0026`...)
		default:
			o.b = append(o.b, c)
		}
	}
	o.b = append(o.b, '"')
	return o
}

// Int writes the member k with the integer v.
func (o Object) Int(k string, v int64) Object {
	if o.omit && v == 0 {
		return o
	}
	o = o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}

// Bool writes the member k with the boolean v.
func (o Object) Bool(k string, v bool) Object {
	o = o.key(k)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

// OmitEmpty returns an object whose String and Int, from then on, skip an
// empty string and a zero, as encoding/json's omitempty does.
func (o Object) OmitEmpty() Object { o.omit = true; return o }

// End closes the object and returns its bytes.
func (o Object) End() []byte {
	return append(o.b, '}')
}
