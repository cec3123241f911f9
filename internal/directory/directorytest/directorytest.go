// Package directorytest helps test user directories: Run is the contract
// every widget.UserDirectory must meet, and Handler serves any directory
// over the HTTP directory protocol, so that a test can stand up a real
// remote directory with httptest in a line.
package directorytest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/causeflow/widget-sessions/pkg/widget"
)

// contractData is what Run asks newDir to hold: tenant id → user ids. It
// includes a tenant with no users and ids with characters that mean
// something in a URL path, a query or an escape, so that an implementation
// that builds paths or keys carelessly answers for the wrong user.
func contractData() map[string][]string {
	return map[string][]string{
		"demo":  {"user_alice", "user_bob"},
		"acme":  {"user_carol"},
		"empty": {},
		"t/x":   {"u"},
		"odd":   {"../x", "a/b", "a%2Fb", "a?b#c", "a+b", "...", "%", "a;b", "ünï", "~u", "a:b@c"},
	}
}

// Run checks that the directory newDir returns, holding data (tenant id →
// user ids, with a tenant that has no users and ids full of characters that
// mean something in a URL), answers as a user directory must. Every case
// expects a nil error: a directory that can be reached always knows.
func Run(t *testing.T, newDir func(t *testing.T, data map[string][]string) widget.UserDirectory) {
	t.Helper()
	dir := newDir(t, contractData())
	cases := []struct {
		name, tenant, user string
		want               bool
	}{
		{"existing user", "demo", "user_alice", true},
		{"another existing user", "demo", "user_bob", true},
		{"existing user of a second tenant", "acme", "user_carol", true},
		{"unknown user", "demo", "user_zed", false},
		{"prefix of a user", "demo", "user_ali", false},
		{"ids are case-sensitive", "demo", "USER_ALICE", false},
		{"user of another tenant", "demo", "user_carol", false},
		{"user of another tenant, reversed", "acme", "user_alice", false},
		{"unknown tenant", "nope", "user_alice", false},
		{"tenant with no users", "empty", "user_alice", false},
		{"tenant id as a user id", "demo", "acme", false},
		{"slash in a tenant id", "t/x", "u", true},
		{"slash moved from tenant to user", "t", "x/users/u", false},
		{"dot-dot slash", "odd", "../x", true},
		{"what dot-dot slash would resolve to", "odd", "x", false},
		{"slash", "odd", "a/b", true},
		{"first segment of a slash", "odd", "a", false},
		{"last segment of a slash", "odd", "b", false},
		{"escaped slash is its own id", "odd", "a%2Fb", true},
		{"doubly escaped slash", "odd", "a%252Fb", false},
		{"query and fragment", "odd", "a?b#c", true},
		{"plus", "odd", "a+b", true},
		{"plus is not a space", "odd", "a b", false},
		{"three dots", "odd", "...", true},
		{"lone percent", "odd", "%", true},
		{"semicolon", "odd", "a;b", true},
		{"non-ASCII", "odd", "ünï", true},
		{"tilde", "odd", "~u", true},
		{"colon and at", "odd", "a:b@c", true},
		{"dot", "odd", ".", false},
		{"dot-dot", "odd", "..", false},
		{"dot-dot tenant", "..", "demo", false},
		{"empty user id", "demo", "", false},
		{"empty tenant id", "", "user_alice", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dir.UserExists(t.Context(), tc.tenant, tc.user)
			if err != nil {
				t.Fatalf("UserExists(%q, %q): unexpected error: %v", tc.tenant, tc.user, err)
			}
			if got != tc.want {
				t.Errorf("UserExists(%q, %q) = %v, want %v", tc.tenant, tc.user, got, tc.want)
			}
		})
	}
	t.Run("concurrent lookups agree", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 32 {
			tc := cases[i%len(cases)]
			wg.Go(func() {
				got, err := dir.UserExists(t.Context(), tc.tenant, tc.user)
				if err != nil || got != tc.want {
					t.Errorf("UserExists(%q, %q) = %v, %v; want %v, nil", tc.tenant, tc.user, got, err, tc.want)
				}
			})
		}
		wg.Wait()
	})
}

// Handler serves dir over the HTTP directory protocol: GET (or HEAD)
// /tenants/{tenantId}/users/{userId} answers 200 when the user exists, 404
// when it does not or the path is not of that form, and 503 when dir fails.
//
// It splits the escaped path itself rather than using http.ServeMux, which
// cleans paths: "..%2Fx" must reach dir as the id "../x", not be resolved.
func Handler(dir widget.UserDirectory) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": widget.CodeMethodNotAllowed})
			return
		}
		tenant, user, ok := parsePath(r.URL.EscapedPath())
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": widget.CodeNotFound})
			return
		}
		exists, err := dir.UserExists(r.Context(), tenant, user)
		switch {
		case err != nil:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": widget.CodeDependencyUnavailable})
		case !exists:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": widget.CodeUserNotFound})
		default:
			writeJSON(w, http.StatusOK, map[string]string{"tenantId": tenant, "userId": user})
		}
	})
}

// parsePath reads the two ids out of /tenants/{tenantId}/users/{userId},
// unescaping each segment on its own.
func parsePath(escaped string) (tenant, user string, ok bool) {
	seg := strings.Split(escaped, "/")
	if len(seg) != 5 || seg[0] != "" || seg[1] != "tenants" || seg[3] != "users" {
		return "", "", false
	}
	tenant, err1 := url.PathUnescape(seg[2])
	user, err2 := url.PathUnescape(seg[4])
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return tenant, user, true
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
