package events

import (
	"cmp"
	"math"
	"strconv"
	"strings"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// ID is an event id, in the form of a Redis Stream id: the millisecond the
// event was appended and a sequence number telling apart the events of one
// millisecond. Ids of one session's log are strictly increasing. The zero
// ID ("0-0") is before every event.
type ID struct {
	Ms  uint64
	Seq uint64
}

// MaxIDLen is the length of the longest valid id: two 20-digit numbers and
// a dash.
const MaxIDLen = 41

// ParseID parses s, an id as String writes it: decimal digits, a dash,
// decimal digits, each number without a sign or a leading zero and within
// 64 bits. s usually comes from a client (the Last-Event-ID header), so the
// parse is strict and the error does not repeat s. The error wraps
// ErrInvalidID and is a *widget.Error with the validation code.
func ParseID(s string) (ID, error) {
	if len(s) <= MaxIDLen {
		if ms, seq, ok := strings.Cut(s, "-"); ok {
			m, ok1 := parseUint(ms)
			q, ok2 := parseUint(seq)
			if ok1 && ok2 {
				return ID{Ms: m, Seq: q}, nil
			}
		}
	}
	return ID{}, &widget.Error{Code: widget.CodeValidation, Field: "Last-Event-ID", Message: "Last-Event-ID: not an event id", Err: ErrInvalidID}
}

// ValidID reports whether s is an id ParseID accepts.
func ValidID(s string) bool {
	_, err := ParseID(s)
	return err == nil
}

// parseUint parses a canonical decimal uint64: digits only, no leading
// zero (but "0"), at most 20 digits, no overflow.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 20 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// String returns the id as "<ms>-<seq>".
func (id ID) String() string {
	b := make([]byte, 0, MaxIDLen)
	b = strconv.AppendUint(b, id.Ms, 10)
	b = append(b, '-')
	return string(strconv.AppendUint(b, id.Seq, 10))
}

// Compare returns -1, 0 or +1 as id is before, equal to or after o.
func (id ID) Compare(o ID) int {
	if c := cmp.Compare(id.Ms, o.Ms); c != 0 {
		return c
	}
	return cmp.Compare(id.Seq, o.Seq)
}

// Next returns the least id after id, and false when id is the greatest
// possible one. Range "after id" is Range "from Next" (what Redis's XRANGE
// takes, without relying on its exclusive-range syntax of Redis 6.2).
func (id ID) Next() (ID, bool) {
	switch {
	case id.Seq < math.MaxUint64:
		return ID{Ms: id.Ms, Seq: id.Seq + 1}, true
	case id.Ms < math.MaxUint64:
		return ID{Ms: id.Ms + 1}, true
	default:
		return id, false
	}
}
