package directory_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/causeflow/widget-sessions/internal/directory"
	"github.com/causeflow/widget-sessions/internal/directory/directorytest"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// fileJSON writes data in the directory file format.
func fileJSON(t *testing.T, data map[string][]string) []byte {
	t.Helper()
	type tenant struct {
		Users []string `json:"users"`
	}
	doc := struct {
		Tenants map[string]tenant `json:"tenants"`
	}{Tenants: map[string]tenant{}}
	for name, users := range data {
		if users == nil {
			users = []string{}
		}
		doc.Tenants[name] = tenant{Users: users}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newFile(t *testing.T, data map[string][]string) *directory.File {
	t.Helper()
	f, err := directory.ParseFile(fileJSON(t, data))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	return f
}

func TestFileContract(t *testing.T) {
	directorytest.Run(t, func(t *testing.T, data map[string][]string) widget.UserDirectory {
		return newFile(t, data)
	})
}

// TestHTTPContract runs the contract against the HTTP adapter talking to a
// real File served over the protocol, so escaping is checked end to end.
func TestHTTPContract(t *testing.T) {
	directorytest.Run(t, func(t *testing.T, data map[string][]string) widget.UserDirectory {
		srv := httptest.NewServer(directorytest.Handler(newFile(t, data)))
		t.Cleanup(srv.Close)
		h, err := directory.NewHTTP(srv.URL, directory.HTTPOptions{})
		if err != nil {
			t.Fatalf("NewHTTP: %v", err)
		}
		return h
	})
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory.json")
	if err := os.WriteFile(path, fileJSON(t, map[string][]string{"demo": {"user_alice"}}), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, spec string
		wantHTTP   bool
		wantErr    bool
	}{
		{"http URL", "http://directory.internal:8080", true, false},
		{"https URL with a path", "https://directory.internal/api/v1/", true, false},
		{"scheme in capitals", "HTTPS://directory.internal", true, false},
		{"file", path, false, false},
		{"missing file", filepath.Join(t.TempDir(), "nope.json"), false, true},
		{"http URL without a host", "http://", false, true},
		{"empty", "", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := directory.Open(tc.spec, directory.HTTPOptions{})
			if tc.wantErr {
				if err == nil || dir != nil {
					t.Fatalf("Open(%q) = %v, %v; want nil and an error", tc.spec, dir, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q): %v", tc.spec, err)
			}
			switch dir.(type) {
			case *directory.HTTP:
				if !tc.wantHTTP {
					t.Errorf("Open(%q) is an HTTP directory, want a file", tc.spec)
				}
			case *directory.File:
				if tc.wantHTTP {
					t.Errorf("Open(%q) is a file directory, want HTTP", tc.spec)
				}
			default:
				t.Errorf("Open(%q) returned %T", tc.spec, dir)
			}
		})
	}
	t.Run("file is loaded", func(t *testing.T) {
		dir, err := directory.Open(path, directory.HTTPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := dir.UserExists(t.Context(), "demo", "user_alice"); !ok || err != nil {
			t.Errorf("UserExists = %v, %v; want true, nil", ok, err)
		}
	})
}
