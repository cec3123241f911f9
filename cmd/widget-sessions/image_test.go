//go:build image

package main

// The container image as CI runs it (make test-image, after make image):
// read-only, every capability dropped, no new privileges, as the non-root
// user, with podman (runc, deploy/podman/containers.conf).

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/devidp"
	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

func podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestImage: the image serves /healthz, mints a session, and drains
// cleanly on SIGTERM (exit 0, "shutting down", no error logged).
func TestImage(t *testing.T) {
	image := os.Getenv("IMAGE")
	if image == "" {
		image = "localhost/widget-sessions:dev"
	}
	// The dev identity provider's key, made here and mounted read-only:
	// the test signs caller tokens with it. Readable by the image's user.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "dev-idp.jwks.json")
	idp, err := devidp.LoadOrCreate(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	name, base := runContainer(t, image, "-v", dir+":/keys:ro", "-e", "WIDGET_DEV_IDP_KEY=/keys/dev-idp.jwks.json")
	if user := podman(t, "inspect", "--format", "{{.Config.User}}", name); user != "65532:65532" {
		t.Errorf("the container runs as %q, want 65532:65532", user)
	}

	caller, err := idp.Token(devidp.TokenRequest{Tenant: "demo", Subject: "admin_dana", Roles: []string{"admin"}})
	if err != nil {
		t.Fatal(err)
	}
	mintIn(t, name, base, caller)

	podman(t, "stop", "--time", "20", name) // SIGTERM, then the drain
	if code := podman(t, "inspect", "--format", "{{.State.ExitCode}}", name); code != "0" {
		t.Errorf("exit code %s after SIGTERM, want 0", code)
	}
	logs := podman(t, "logs", name)
	if !strings.Contains(logs, `"msg":"shutting down"`) || strings.Contains(logs, `"level":"error"`) {
		t.Errorf("not a clean drain:\n%s", logs)
	}
	// stderr is a pipe under podman, as under every runtime: syncing it
	// must not print an error after each warning.
	if strings.Contains(logs, "write error") {
		t.Errorf("the log holds write errors:\n%s", logs)
	}
}

// TestImageEmbeddedDefault: the embedded default (WIDGET_ENV=test, nothing
// else) starts in a read-only container: the dev identity provider's key,
// which cannot go in the working directory, goes to the container's /tmp
// tmpfs, and wsctl dev-token in the same container finds it there.
func TestImageEmbeddedDefault(t *testing.T) {
	image := os.Getenv("IMAGE")
	if image == "" {
		image = "localhost/widget-sessions:dev"
	}
	name, base := runContainer(t, image)
	caller := podman(t, "exec", name, "/usr/local/bin/wsctl", "dev-token", "--tenant", "demo", "--user", "admin_dana", "--role", "admin")
	mintIn(t, name, base, caller)
	if logs := podman(t, "logs", name); !strings.Contains(logs, devidp.TempKeyFile()) || strings.Contains(logs, "write error") {
		t.Errorf("the log does not name the key file in /tmp, or holds write errors:\n%s", logs)
	}
}

// runContainer runs image as CI does (read-only, every capability dropped,
// no new privileges, the non-root user, WIDGET_ENV=test) with extra podman
// arguments, waits for /healthz, and returns the container's name and its
// public base URL. The container is removed at cleanup.
func runContainer(t *testing.T, image string, extra ...string) (name, base string) {
	t.Helper()
	pub, internal := redistest.FreePort(t), redistest.FreePort(t)
	name = fmt.Sprintf("widget-sessions-test-%d", pub)
	t.Cleanup(func() { _ = exec.Command("podman", "rm", "-f", name).Run() })
	args := []string{"run", "-d", "--name", name, "--network", "host",
		"--read-only", "--cap-drop=ALL", "--security-opt", "no-new-privileges", "--user", "65532:65532",
		"-e", "WIDGET_ENV=test",
		"-e", fmt.Sprintf("WIDGET_ADDR=127.0.0.1:%d", pub),
		"-e", fmt.Sprintf("WIDGET_INTERNAL_ADDR=127.0.0.1:%d", internal)}
	args = append(append(args, extra...), image)
	podman(t, args...)

	var err error
	wait.Within(t, 30*time.Second, "/healthz answers 200", func() bool {
		var resp *http.Response
		if resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", internal)); err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, func() string { return fmt.Sprintf("last error %v\nlogs:\n%s", err, podman(t, "logs", name)) })
	return name, fmt.Sprintf("http://127.0.0.1:%d", pub)
}

// mintIn mints a session for user_alice of demo on the container at base.
func mintIn(t *testing.T, name, base, caller string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/widget/sessions", strings.NewReader(`{"userId": "user_alice", "incidentId": "inc_EXAMPLE_01JX"}`))
	req.Header.Set("Authorization", "Bearer "+caller)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("mint in the container: %d\nlogs:\n%s", resp.StatusCode, podman(t, "logs", name))
	}
}
