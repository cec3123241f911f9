// Package redistest starts a real redis-server for tests, on a free port of
// 127.0.0.1 with persistence off, and lets a test stop and restart it on the
// same port to play an outage (it comes back empty, like a Redis restarted
// without persistence).
//
// A missing redis-server is a test failure, not a skip: a skipped Redis
// suite would hide every failure it exists to catch. `make test` installs
// redis-server when it is missing.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a redis-server process owned by one test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	// args are more arguments for redis-server (cluster or replica
	// settings); conf, when set, writes a configuration file the server is
	// started with (a sentinel rewrites its own).
	args []string
	conf func(port int) string

	mu     sync.Mutex
	proc   *os.Process   // nil when stopped
	exited chan struct{} // closed when proc has exited
	out    lockedBuffer  // what every run of the process printed
}

// lockedBuffer is a bytes.Buffer the process's output and Log share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Log returns what the server printed (at notice level) over every run on
// its port, for a failing test to show.
func (s *Server) Log() string { return s.out.String() }

// Start launches redis-server on a free port and returns once it answers. The server is killed when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, FreePort, nil, nil)
}

// StartWith is Start with more redis-server arguments, such as
// "--enable-debug-command", "yes" for DEBUG SLEEP.
func StartWith(tb testing.TB, args ...string) *Server {
	tb.Helper()
	return start(tb, FreePort, args, nil)
}

// start launches a server on a port pick returns, with args or a
// configuration file.
func start(tb testing.TB, pick func(testing.TB) int, args []string, conf func(port int) string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatal("redis-server not installed: run `make test`, which installs it")
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), args: args, conf: conf}
	tb.Cleanup(s.Stop)
	var last error
	for range 5 { // another process may take the port between probe and start
		s.port = pick(tb)
		if last = s.launch(); last == nil {
			return s
		}
	}
	tb.Fatalf("redistest: cannot start redis-server: %v", last)
	return nil
}

// Running reports whether the server process is up (not stopped or killed).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Stop kills the server, as a crash would. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.exited
	s.proc = nil
}

// Freeze stops the server's process (SIGSTOP) without killing it: its
// connections stay open and unanswered, as a hung host's would. Thaw
// resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.tb.Fatalf("redistest: signal %v to the stopped server on port %d", sig, s.port)
	}
	if err := s.proc.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: signal %v to redis-server on port %d: %v", sig, s.port, err)
	}
}

// Restart stops the server if it runs and starts a new, empty one on the
// same port (persistence is off, so nothing survives).
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	var err error
	for range 50 { // the port may take a moment to free
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.tb.Fatalf("redistest: cannot restart redis-server on port %d: %v", s.port, err)
}

// launch starts redis-server on s.port and waits until it answers.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := len(s.out.String())
	output := func() string { return strings.TrimSpace(s.out.String()[start:]) }
	var args []string
	if s.conf != nil {
		path := filepath.Join(s.dir, "redis.conf")
		if err := os.WriteFile(path, []byte(s.conf(s.port)), 0o600); err != nil {
			return err
		}
		args = append(args, path)
	}
	args = append(args, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "notice")
	if s.conf == nil || !strings.Contains(s.conf(s.port), "sentinel monitor") {
		// No persistence; and a replica that must sync in full (after a
		// failover) is served at once, not after the default 5 s wait for
		// others to join the same transfer.
		args = append(args, "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0")
	}
	args = append(args, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = &s.out, &s.out
	setPdeathsig(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %s", output())
		default:
		}
		// Ask for the pid: another process may hold the port, and answer.
		if pid, err := serverPID(s.Addr()); err == nil {
			if pid != cmd.Process.Pid {
				_ = cmd.Process.Kill()
				<-exited
				return fmt.Errorf("port %d is held by another redis-server (pid %d)", s.port, pid)
			}
			s.proc, s.exited = cmd.Process, exited
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server did not answer PING within 5s: %s", output())
}

// serverPID asks the server at addr for its process id (INFO server).
func serverPID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return 0, err
	}
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if !strings.HasPrefix(head, "$") || err != nil {
		return 0, fmt.Errorf("INFO answered %q", head)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, errors.New("INFO has no process_id")
}

// FreePort returns a loopback port that was free a moment ago, for a
// process a test starts that cannot listen on :0 and say where.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
