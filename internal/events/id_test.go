package events_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

func TestParseID(t *testing.T) {
	cases := []struct {
		in   string
		want events.ID
		ok   bool
	}{
		{"0-0", events.ID{}, true},
		{"0-1", events.ID{Seq: 1}, true},
		{"1718000000000-0", events.ID{Ms: 1718000000000}, true},
		{"1718000000000-42", events.ID{Ms: 1718000000000, Seq: 42}, true},
		{"18446744073709551615-18446744073709551615", events.ID{Ms: math.MaxUint64, Seq: math.MaxUint64}, true},
		{"", events.ID{}, false},
		{"1", events.ID{}, false},
		{"1-", events.ID{}, false},
		{"-1", events.ID{}, false},
		{"1--1", events.ID{}, false},
		{"1-1-1", events.ID{}, false},
		{"01-1", events.ID{}, false},
		{"1-00", events.ID{}, false},
		{"+1-1", events.ID{}, false},
		{"1-+1", events.ID{}, false},
		{" 1-1", events.ID{}, false},
		{"1-1\n", events.ID{}, false},
		{"0x1-1", events.ID{}, false},
		{"1.5-1", events.ID{}, false},
		{"٣-1", events.ID{}, false}, // Arabic-Indic digit
		{"18446744073709551616-0", events.ID{}, false},
		{"0-18446744073709551616", events.ID{}, false},
		{"*", events.ID{}, false},
		{"$", events.ID{}, false},
		{strings.Repeat("1", 1000) + "-1", events.ID{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := events.ParseID(tc.in)
			if events.ValidID(tc.in) != tc.ok {
				t.Errorf("ValidID = %v; want %v", !tc.ok, tc.ok)
			}
			if !tc.ok {
				if !errors.Is(err, events.ErrInvalidID) || widget.ErrorCode(err) != widget.CodeValidation {
					t.Fatalf("ParseID = %v, %v; want a validation error wrapping ErrInvalidID", got, err)
				}
				if tc.in != "" && strings.Contains(err.Error(), tc.in) {
					t.Fatalf("the error %q repeats the client's value", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseID = %v, %v; want %v", got, err, tc.want)
			}
			if got.String() != tc.in {
				t.Fatalf("String = %q; want %q", got.String(), tc.in)
			}
		})
	}
}

func TestIDOrder(t *testing.T) {
	max := events.ID{Ms: math.MaxUint64, Seq: math.MaxUint64}
	cases := []struct {
		a, b events.ID
		cmp  int
		next events.ID // a.Next()
		ok   bool
	}{
		{events.ID{}, events.ID{Seq: 1}, -1, events.ID{Seq: 1}, true},
		{events.ID{Ms: 5, Seq: 9}, events.ID{Ms: 6}, -1, events.ID{Ms: 5, Seq: 10}, true},
		{events.ID{Ms: 6}, events.ID{Ms: 5, Seq: 9}, 1, events.ID{Ms: 6, Seq: 1}, true},
		{events.ID{Ms: 7, Seq: 3}, events.ID{Ms: 7, Seq: 3}, 0, events.ID{Ms: 7, Seq: 4}, true},
		{events.ID{Ms: 7, Seq: math.MaxUint64}, events.ID{Ms: 8}, -1, events.ID{Ms: 8}, true},
		{max, max, 0, max, false},
	}
	for _, tc := range cases {
		if got := tc.a.Compare(tc.b); got != tc.cmp {
			t.Errorf("%v.Compare(%v) = %d; want %d", tc.a, tc.b, got, tc.cmp)
		}
		next, ok := tc.a.Next()
		if next != tc.next || ok != tc.ok {
			t.Errorf("%v.Next() = %v, %v; want %v, %v", tc.a, next, ok, tc.next, tc.ok)
		}
		if ok && next.Compare(tc.a) <= 0 {
			t.Errorf("%v.Next() = %v is not after it", tc.a, next)
		}
	}
}
