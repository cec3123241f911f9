package demo_test

import (
	"testing"

	"github.com/causeflow/widget-sessions/pkg/demo"
	"github.com/causeflow/widget-sessions/pkg/directory"
)

func TestDirectory(t *testing.T) {
	f, err := directory.ParseFile(demo.Directory())
	if err != nil {
		t.Fatalf("the demo directory does not parse: %v", err)
	}
	cases := []struct {
		tenant, user string
		want         bool
	}{
		{"demo", "user_alice", true},
		{"demo", "user_bob", true},
		{"acme", "user_carol", true},
		{"demo", "user_carol", false},
		{"acme", "user_alice", false},
		{"other", "user_alice", false},
	}
	for _, tc := range cases {
		t.Run(tc.tenant+"/"+tc.user, func(t *testing.T) {
			if got, err := f.UserExists(t.Context(), tc.tenant, tc.user); got != tc.want || err != nil {
				t.Errorf("UserExists = %v, %v; want %v, nil", got, err, tc.want)
			}
		})
	}
}

func TestDirectoryReturnsACopy(t *testing.T) {
	b := demo.Directory()
	clear(b)
	if _, err := directory.ParseFile(demo.Directory()); err != nil {
		t.Errorf("changing one result changed the next: %v", err)
	}
}
