package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestInstallTargets runs every install target of the Makefile as a fresh
// machine would meet it: with a PATH that holds only the commands a case
// says are present (each a stand-in that does nothing) and an apt-get that
// records what it is asked for. Each target asks apt for the packages of
// exactly the commands missing from PATH, never for a toolchain that is
// present, and never for Node.js or npm, which are not Debian's here (apt's
// nodejs conflicts with npm on such a machine).
func TestInstallTargets(t *testing.T) {
	makeBin, err := exec.LookPath("make")
	if err != nil {
		t.Fatalf("make: %v", err)
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// Every command an install target looks for, by target.
	tools := map[string][]string{
		"test-deps":        {"redis-server"},
		"browser-deps":     {"node", "npm", "chromium", "firefox-esr", "WebKitWebDriver", "xvfb-run", "xauth"},
		"image-deps":       {"podman", "runc"},
		"check-rules-deps": {"promtool"},
		"load-deps":        {"redis-server", "wrk", "taskset"},
		"lint-deps":        {"node", "npm"},
	}
	type result struct {
		apt []string // apt-get's calls, one line each
		npm []string // npm's calls
		out string
		err error
	}
	// run runs target with only present (and the machine's shell basics)
	// on PATH.
	run := func(t *testing.T, target string, present ...string) result {
		t.Helper()
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		stub := func(name, script string) {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		log := func(name string) string { return filepath.Join(dir, name+".log") }
		stub("apt-get", `echo "$*" >> `+log("apt"))
		stub("npm", `echo "$*" >> `+log("npm"))
		stub("id", `echo 0`) // as root, as CI runs
		for _, p := range present {
			if p != "npm" {
				stub(p, "exit 0")
			}
		}
		if !slices.Contains(present, "npm") {
			_ = os.Remove(filepath.Join(bin, "npm"))
		}
		cmd := exec.Command(makeBin, "-s", "--no-print-directory", "-C", repo, target, "BIN="+filepath.Join(dir, "out"))
		cmd.Env = []string{"PATH=" + bin, "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		read := func(name string) []string {
			b, _ := os.ReadFile(log(name))
			if len(b) == 0 {
				return nil
			}
			return strings.Split(strings.TrimSpace(string(b)), "\n")
		}
		return result{apt: read("apt"), npm: read("npm"), out: string(out), err: err}
	}
	installs := func(r result) []string {
		var pkgs []string
		for _, call := range r.apt {
			if f := strings.Fields(call); slices.Contains(f, "install") {
				for _, a := range f {
					if !strings.HasPrefix(a, "-") && a != "install" {
						pkgs = append(pkgs, a)
					}
				}
			}
		}
		return pkgs
	}

	t.Run("fresh machine with Node.js and npm from outside Debian", func(t *testing.T) {
		want := map[string][]string{
			"test-deps":        {"redis-server"},
			"browser-deps":     {"chromium", "firefox-esr", "webkit2gtk-driver", "xvfb", "xauth"},
			"image-deps":       {"podman", "runc"},
			"check-rules-deps": {"prometheus"},
			"load-deps":        {"redis-server", "wrk", "util-linux"},
			"lint-deps":        nil,
		}
		for target, pkgs := range want {
			r := run(t, target, "node", "npm")
			if r.err != nil {
				t.Errorf("%s: %v\n%s", target, r.err, r.out)
				continue
			}
			if got := installs(r); !slices.Equal(got, pkgs) {
				t.Errorf("%s asked apt to install %q, want %q", target, got, pkgs)
			}
			if (target == "browser-deps" || target == "lint-deps") && (len(r.npm) != 1 || !strings.HasPrefix(r.npm[0], "install ")) {
				t.Errorf("%s ran npm %q, want one install of the pinned tools", target, r.npm)
			}
		}
	})
	t.Run("everything present: nothing installed", func(t *testing.T) {
		for target, present := range tools {
			r := run(t, target, present...)
			if r.err != nil {
				t.Errorf("%s: %v\n%s", target, r.err, r.out)
			}
			if len(r.apt) != 0 {
				t.Errorf("%s called apt-get with every tool present: %q", target, r.apt)
			}
		}
	})
	t.Run("one tool missing: only its package", func(t *testing.T) {
		r := run(t, "browser-deps", "node", "npm", "chromium", "firefox-esr", "xvfb-run", "xauth")
		if got := installs(r); r.err != nil || !slices.Equal(got, []string{"webkit2gtk-driver"}) {
			t.Errorf("with only WebKitWebDriver missing, apt installed %q (err %v), want [webkit2gtk-driver]\n%s", got, r.err, r.out)
		}
	})
	t.Run("no npm: refused, never taken from apt", func(t *testing.T) {
		r := run(t, "browser-deps", "chromium", "firefox-esr", "WebKitWebDriver", "xvfb-run", "xauth")
		if r.err == nil {
			t.Fatal("browser-deps succeeded without node and npm")
		}
		if len(r.apt) != 0 {
			t.Errorf("apt-get called: %q", r.apt)
		}
		if !strings.Contains(r.out, "node npm not found") || !strings.Contains(r.out, "not from apt") {
			t.Errorf("the error does not say what to install: %s", r.out)
		}
	})
}
