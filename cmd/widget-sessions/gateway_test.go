package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// verifierOnly is the smallest outside program: the verifier and its JWKS
// source, no Redis mirror.
const verifierOnly = `package main

import (
	"fmt"

	"github.com/causeflow/widget-sessions/pkg/jwks"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

func main() { fmt.Println(verify.ErrRevoked, jwks.ErrUnknownKey) }
`

// TestGatewayModule is a gateway team's view of the public module: an
// outside module that requires github.com/causeflow/widget-sessions/pkg
// (here replaced by this checkout's pkg/) inherits a small module graph
// (at most 15 modules with the verifier alone, 20 with the Redis mirror,
// and never the service's server, logging, tracing or test dependencies),
// and the gateway of testdata/gateway, built from it, accepts a token the
// running service minted, then refuses it once the service revoked it.
func TestGatewayModule(t *testing.T) {
	t.Parallel()
	gateway, err := os.ReadFile(filepath.Join("testdata", "gateway", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"github.com/gin-gonic/", "go.uber.org/zap", "go.opentelemetry.io/", "github.com/lestrrat-go/",
		"github.com/prometheus/", "github.com/chromedp/", "k8s.io/", "sigs.k8s.io/", "github.com/getkin/", "github.com/causeflow/widget-sessions "}
	var bin string
	for _, m := range []struct {
		name, main string
		most       int
	}{
		{"verifier", verifierOnly, 15},
		{"verifier and Redis mirror", string(gateway), 20},
	} {
		dir, goCmd := outsideModule(t, m.main, "pkg")
		goCmd("mod", "tidy")
		mods := strings.Split(strings.TrimSpace(goCmd("list", "-m", "all")), "\n")
		t.Logf("%s: %d modules in go list -m all:\n%s", m.name, len(mods), strings.Join(mods, "\n"))
		if len(mods) > m.most {
			t.Errorf("%s: an outside module lists %d modules, want at most %d", m.name, len(mods), m.most)
		}
		for _, mod := range mods {
			for _, f := range forbidden {
				if strings.HasPrefix(mod+" ", f) {
					t.Errorf("%s: an outside module inherits %s", m.name, mod)
				}
			}
		}
		bin = filepath.Join(dir, "gateway")
		goCmd("build", "-o", bin, ".")
	}

	rds := redistest.Start(t)
	c := newCluster(t, rds.URL(), nil)
	s := startServer(t, c.env)
	admin := c.caller(t, "demo", "admin")
	revoked := s.mintCreated(t, admin, `{"userId":"user_alice"}`)
	kept := s.mintCreated(t, admin, `{"userId":"user_bob"}`)

	gw := exec.Command(bin, "-jwks", s.public+"/.well-known/jwks.json", "-redis", rds.URL(), "-env", "test", "-insecure-http")
	stdin, err := gw.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := gw.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	gw.Stderr = &stderr
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = gw.Wait() })
	answers := bufio.NewScanner(stdout)
	ask := func(tok string) string {
		t.Helper()
		if _, err := io.WriteString(stdin, tok+"\n"); err != nil {
			t.Fatalf("write to the gateway: %v\n%s", err, stderr.String())
		}
		if !answers.Scan() {
			t.Fatalf("the gateway ended: %v\n%s", answers.Err(), stderr.String())
		}
		return answers.Text()
	}

	for _, sess := range []createSessionResponse{revoked, kept} {
		if got := ask(sess.SessionToken); got != "ok "+sess.SessionID {
			t.Fatalf("the gateway answers %q for a fresh token, want ok %s", got, sess.SessionID)
		}
	}
	s.mustRevoke(t, admin, "/v1/widget/sessions/"+revoked.SessionID)
	var last string
	wait.For(t, "the gateway refuses the revoked token", func() bool {
		last = ask(revoked.SessionToken)
		return strings.HasPrefix(last, "refused verify: revoked")
	}, func() string { return "its last answer: " + last + "\n" + stderr.String() })
	if got := ask(kept.SessionToken); got != "ok "+kept.SessionID {
		t.Errorf("the gateway answers %q for the other session, want ok %s", got, kept.SessionID)
	}
	if got := ask("wst_test_not.a.token"); !strings.HasPrefix(got, "refused ") {
		t.Errorf("the gateway answers %q for junk", got)
	}
}

// etcdGateway is a gateway of a deployment in several regions: the
// verifier, checking revocations with the etcd mirror of its region.
const etcdGateway = `package main

import (
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/causeflow/widget-sessions/pkg/etcd"
	"github.com/causeflow/widget-sessions/pkg/verify"
)

func main() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"127.0.0.1:2379"}})
	if err != nil {
		panic(err)
	}
	revs, err := etcd.New(cli, etcd.Config{})
	fmt.Println(revs, err, verify.ErrRevoked)
}
`

// TestGatewayEtcdModule: a gateway of a multi-region deployment imports
// the etcd mirror (github.com/causeflow/widget-sessions/pkg/etcd, a module
// of its own so that a gateway on Redis never inherits etcd's client) and
// compiles in etcd's client and gRPC, never the etcd server, nor the
// service's server, JOSE library or test dependencies.
func TestGatewayEtcdModule(t *testing.T) {
	t.Parallel()
	dir, goCmd := outsideModule(t, etcdGateway, "pkg", "pkg/etcd")
	goCmd("mod", "tidy")
	graph := strings.Split(strings.TrimSpace(goCmd("list", "-m", "all")), "\n")
	// What is compiled in: the modules of the packages the gateway builds.
	var mods []string
	for _, m := range strings.Split(strings.TrimSpace(goCmd("list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".")), "\n") {
		if m != "" && !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	slices.Sort(mods)
	t.Logf("verifier and etcd mirror: %d modules in go list -m all, %d compiled in:\n%s", len(graph), len(mods), strings.Join(mods, "\n"))
	for _, mod := range mods {
		for _, f := range []string{"go.etcd.io/etcd/server/", "go.etcd.io/raft/", "go.etcd.io/bbolt ", "github.com/gin-gonic/", "github.com/lestrrat-go/",
			"github.com/chromedp/", "k8s.io/", "sigs.k8s.io/", "github.com/getkin/", "github.com/redis/go-redis/v9 x", "github.com/causeflow/widget-sessions "} {
			if strings.HasPrefix(mod+" ", f) {
				t.Errorf("a gateway on etcd inherits %s", mod)
			}
		}
	}
	goCmd("build", "-o", filepath.Join(dir, "gateway"), ".")
}

// outsideModule writes a module of its own (example.com/gateway) with
// main.go, requiring the public modules named (paths under this
// checkout: "pkg", "pkg/etcd"), each replaced by the checkout's, and
// returns its directory and a function that runs the go tool in it.
func outsideModule(t *testing.T, main string, modules ...string) (dir string, goCmd func(args ...string) string) {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go tool is not on PATH")
	}
	dir = t.TempDir()
	gomod := "module example.com/gateway\n\ngo 1.26.8\n"
	for _, m := range modules {
		abs, err := filepath.Abs(filepath.Join("..", "..", filepath.FromSlash(m)))
		if err != nil {
			t.Fatal(err)
		}
		path := "github.com/causeflow/widget-sessions/" + m
		gomod += "\nrequire " + path + " v0.0.0\n\nreplace " + path + " => " + abs + "\n"
	}
	for name, text := range map[string]string{"go.mod": gomod, "main.go": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gotool, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
		}
		return string(out)
	}
}
