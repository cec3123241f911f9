package api

import (
	"regexp"
	"testing"
)

// Generated request ids keep the documented shape, never repeat within a
// process, and differ between processes in their random prefix.
func TestRequestIDs(t *testing.T) {
	shape := regexp.MustCompile(`^req_[0-9A-Za-z]{27}$`)
	a, b := newRequestIDs(), newRequestIDs()
	if a.prefix == b.prefix {
		t.Fatalf("two sources drew the same prefix %q", a.prefix)
	}
	seen := map[string]bool{}
	for range 100_000 {
		id := a.next()
		if !shape.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, shape)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
	}
	// The counter's last digit is 62-ary: ids after a carry still differ.
	a.n.Store(1<<64 - 2)
	if x, y := a.next(), a.next(); x == y || !shape.MatchString(x) || !shape.MatchString(y) {
		t.Fatalf("ids at the counter's end: %q, %q", x, y)
	}
}
