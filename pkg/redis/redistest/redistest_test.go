package redistest_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

// do sends one inline command and returns the lines of the reply, joined
// by spaces.
func do(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	rd := bufio.NewReader(c)
	line, err := rd.ReadString('\n')
	lines := []string{strings.TrimSpace(line)}
	for err == nil { // the rest of a multi-line reply comes in the same burst
		_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if line, err = rd.ReadString('\n'); err == nil {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if len(lines[0]) == 0 {
		return "", err
	}
	return strings.TrimSpace(strings.Join(lines, " ")), nil
}

func TestServer(t *testing.T) {
	srv := redistest.Start(t)
	if !strings.HasPrefix(srv.Addr(), "127.0.0.1:") || srv.URL() != "redis://"+srv.Addr() {
		t.Fatalf("Addr %q, URL %q", srv.Addr(), srv.URL())
	}
	steps := []struct {
		name, cmd, want string
		before          func()
	}{
		{"answers", "PING", "+PONG", nil},
		{"stores", "SET k v", "+OK", nil},
		{"snapshots are off", "CONFIG GET save", "*2 $4 save $0", nil},
		{"the append-only file is off", "CONFIG GET appendonly", "*2 $10 appendonly $2 no", nil},
		{"restarts on the same port, empty", "EXISTS k", ":0", srv.Restart},
		{"restarting twice is fine", "PING", "+PONG", srv.Restart},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before()
			}
			if got, err := do(srv.Addr(), st.cmd); err != nil || got != st.want {
				t.Fatalf("%s = %q, %v; want %q", st.cmd, got, err, st.want)
			}
		})
	}
	t.Run("stopped, it refuses connections", func(t *testing.T) {
		srv.Stop()
		srv.Stop() // twice is fine
		if _, err := do(srv.Addr(), "PING"); err == nil {
			t.Fatal("a stopped server answered")
		}
	})
}

// TestServersAreIndependent starts two servers: different ports, different
// data.
func TestServersAreIndependent(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatal("two servers on one address")
	}
	if _, err := do(a.Addr(), "SET only-a 1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := do(b.Addr(), "EXISTS only-a"); got != ":0" {
		t.Fatalf("b sees a's key: %q", got)
	}
}
