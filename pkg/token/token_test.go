package token_test

import (
	"errors"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/token"
)

func TestUnwrap(t *testing.T) {
	tests := []struct {
		env, tok, want string
		err            error
	}{
		{token.EnvTest, "wst_test_a.b.c", "a.b.c", nil},
		{token.EnvLive, "wst_live_a.b.c", "a.b.c", nil},
		{token.EnvLive, "wst_test_a.b.c", "", token.ErrWrongEnvironment},
		{token.EnvTest, "wst_live_a.b.c", "", token.ErrWrongEnvironment},
		{token.EnvTest, "a.b.c", "", token.ErrMalformed},
		{token.EnvTest, "wst_prod_a.b.c", "", token.ErrMalformed},
		{token.EnvTest, "WST_TEST_a.b.c", "", token.ErrMalformed},
		{token.EnvTest, "", "", token.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.env+" "+tt.tok, func(t *testing.T) {
			got, err := token.Unwrap(tt.env, tt.tok)
			if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Fatalf("Unwrap(%q, %q) = %q, %v; want %q, %v", tt.env, tt.tok, got, err, tt.want, tt.err)
			}
		})
	}
	if token.Wrap(token.EnvLive, "x.y.z") != "wst_live_x.y.z" {
		t.Fatal("Wrap does not prefix wst_live_")
	}
}
