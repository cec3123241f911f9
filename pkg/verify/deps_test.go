package verify_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/causeflow/widget-sessions/"

// TestImportGraph holds the promise of the package comment: an edge that
// embeds the verifier, or a test that uses verifytest, gets the standard
// library (and the KSUID library, with verifytest), and no JOSE library,
// HTTP framework, logger, metrics or Redis client.
func TestImportGraph(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	forbidden := []string{"github.com/lestrrat-go/", "github.com/gin-gonic/", "github.com/redis/go-redis", "go.uber.org/zap", "github.com/prometheus/"}
	for _, tc := range []struct {
		pkg     string
		allowed []string // beyond the standard library and thirdParty
	}{
		// pkg/jsonwrite is standard library only, as the test below holds.
		{module + "pkg/verify", []string{module + "pkg/verify", module + "pkg/token", module + "pkg/jsonwrite", module + "pkg/jwks"}},
		{module + "pkg/jsonwrite", []string{module + "pkg/jsonwrite"}},
		{module + "pkg/verify/verifytest", []string{
			module + "pkg/verify", module + "pkg/token", module + "pkg/jsonwrite", module + "pkg/jwks",
			module + "pkg/sessionid", "github.com/segmentio/ksuid",
		}},
	} {
		out, err := exec.Command(gotool, "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", tc.pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %q", tc.pkg, deps)
		}
		for _, dep := range deps {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", tc.pkg, dep)
				}
			}
			if first, _, _ := strings.Cut(dep, "/"); !strings.Contains(first, ".") {
				continue // the standard library
			}
			if !hasPrefix(dep, tc.allowed) {
				t.Errorf("%s depends on %s, which is not the standard library", tc.pkg, dep)
			}
		}
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
