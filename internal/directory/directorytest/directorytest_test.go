package directorytest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/directory/directorytest"
)

func TestHandler(t *testing.T) {
	f, err := directory.ParseFile([]byte(`{"tenants": {"demo": {"users": ["user_alice", "a/b"]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := directorytest.Handler(f)
	cases := []struct {
		method, target string
		want           int
	}{
		{http.MethodGet, "/tenants/demo/users/user_alice", http.StatusOK},
		{http.MethodHead, "/tenants/demo/users/user_alice", http.StatusOK},
		{http.MethodGet, "/tenants/demo/users/a%2Fb", http.StatusOK},
		{http.MethodGet, "/tenants/demo/users/a/b", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo/users/user_bob", http.StatusNotFound},
		{http.MethodGet, "/tenants/acme/users/user_alice", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo/users/", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo", http.StatusNotFound},
		{http.MethodGet, "/tenants/demo/users/user_alice/", http.StatusNotFound},
		{http.MethodGet, "/v1/tenants/demo/users/user_alice", http.StatusNotFound},
		{http.MethodPost, "/tenants/demo/users/user_alice", http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
			if rec.Code != tc.want {
				t.Errorf("status %d, want %d", rec.Code, tc.want)
			}
			if tc.want == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q, want GET, HEAD", rec.Header().Get("Allow"))
			}
		})
	}
}
