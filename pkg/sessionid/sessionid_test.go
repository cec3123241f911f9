package sessionid_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/sessionid"
)

func TestNewAndTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 11, 12, 0, time.UTC)
	id, err := sessionid.New(now)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^wsess_[0-9A-Za-z]{27}$`).MatchString(id) {
		t.Fatalf("id %q is not wsess_ + KSUID", id)
	}
	if got, err := sessionid.Time(id); err != nil || !got.Equal(now) {
		t.Fatalf("Time(%q) = %v, %v; want %v", id, got, err, now)
	}
	other, _ := sessionid.New(now)
	if other == id {
		t.Fatal("two ids made in the same second are equal")
	}
	for _, bad := range []string{"", "wsess_", "wsess_short", "sess_" + id[6:], id[6:], id + "x", id[:len(id)-1] + "_", id[:len(id)-1] + "."} {
		if sessionid.Valid(bad) {
			t.Errorf("Valid(%q) = true", bad)
		}
	}
}
