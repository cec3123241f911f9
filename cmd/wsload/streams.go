package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// streamsConfig is what `wsload streams` runs.
type streamsConfig struct {
	bin      string
	n        int
	idle     time.Duration
	messages int
	revokes  int
	profiles string
	dir      string
}

// streams holds n open widget streams on one replica over Redis, and
// reports memory per stream against bare net/http held responses, idle
// CPU and Redis commands, the first delta's latency, and how soon a
// revocation on one replica ends a stream on another.
func streams(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("streams", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg streamsConfig
	fs.StringVar(&cfg.bin, "bin", "bin/widget-sessions", "the service's binary")
	fs.IntVar(&cfg.n, "n", 10000, "streams to hold open")
	fs.DurationVar(&cfg.idle, "idle", 30*time.Second, "the idle window over which CPU and Redis commands are measured (two heartbeats at the default 15s)")
	fs.IntVar(&cfg.messages, "messages", 200, "messages sent to distinct sessions, one at a time, for the first-delta latency")
	fs.IntVar(&cfg.revokes, "revocations", 200, "sessions revoked on replica A while streaming on replica B")
	fs.StringVar(&cfg.profiles, "profiles", "", "a directory to save replica A's heap and goroutine profiles in, taken with every stream open")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.messages, cfg.revokes = min(cfg.messages, cfg.n), min(cfg.revokes, cfg.n)
	if lim := raiseOpenFiles(uint64(2*cfg.n + 4096)); lim < uint64(cfg.n+1024) {
		return fmt.Errorf("open files limited to %d: not enough for %d streams", lim, cfg.n)
	}
	dir, err := os.MkdirTemp("", "wsload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.dir = dir
	out := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }

	out("wsload streams: %d streams, one replica on one core (GOMAXPROCS=1), Redis; logs in %s while it runs", cfg.n, dir)
	bare, err := measureBare(ctx, cfg)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	out("baseline: bare net/http held responses: %.1f KB each (%d held)", bare/1024, cfg.n)
	return measureService(ctx, cfg, bare, out)
}

// measureBare returns the resident memory a bare net/http server spends per
// held response.
func measureBare(ctx context.Context, cfg streamsConfig) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	p, err := start(cfg.dir, "bare", self, []string{"bare-held", "-addr", addr}, []string{"GOMAXPROCS=1"})
	if err != nil {
		return 0, err
	}
	defer p.stop()
	if err := waitHTTP(ctx, "http://"+addr+"/ready", 10*time.Second); err != nil {
		return 0, err
	}
	before, err := settledRSS(p, "http://"+addr+"/gc")
	if err != nil {
		return 0, err
	}
	conns, err := openAll(ctx, cfg.n, func(i int) (net.Conn, error) {
		return dialStream(addr, i, "/held", "")
	})
	defer closeAll(conns)
	if err != nil {
		return 0, err
	}
	after, err := settledRSS(p, "http://"+addr+"/gc")
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(cfg.n), nil
}

// settledRSS collects the process's garbage (GET gcURL, twice: the second
// frees what the first's finalizers let go, and shrinks the goroutine
// stacks grown while serving requests), lets it settle, then reads its
// RSS: the steady state, as the collector leaves it every few minutes at
// the latest.
func settledRSS(p *proc, gcURL string) (int64, error) {
	for range 2 {
		resp, err := http.Get(gcURL)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	time.Sleep(time.Second)
	return p.rss()
}

// replica is one started widget-sessions process.
type replica struct {
	*proc
	public, internal string
}

func startReplica(ctx context.Context, cfg streamsConfig, name, redisAddr, idpKey string, extra ...string) (*replica, error) {
	return launchReplica(ctx, cfg.dir, name, cfg.bin, false, append([]string{
		"WIDGET_REDIS_URL=redis://" + redisAddr,
		"WIDGET_DEV_IDP_KEY=" + idpKey,
		"WIDGET_LOG_LEVEL=warn",
		// The load is one tenant's: its budgets must not be what is measured.
		"WIDGET_MINT_RATE_LIMIT=100000000",
		"WIDGET_REVOCATION_RATE_LIMIT=100000000",
		"WIDGET_MAX_STREAMS_PER_CLIENT=1000000",
	}, extra...))
}

// launchReplica starts the service's binary bin on free loopback
// addresses, on one core (GOMAXPROCS=1, and pinned to core 0 when pin),
// with its profiler on (its heap profile collects garbage first) and env,
// and waits until it is ready.
func launchReplica(ctx context.Context, dir, name, bin string, pin bool, env []string) (*replica, error) {
	pub, err := freeAddr()
	if err != nil {
		return nil, err
	}
	internal, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env = append([]string{
		"GOMAXPROCS=1",
		"WIDGET_ADDR=" + pub, "WIDGET_INTERNAL_ADDR=" + internal,
		"WIDGET_URL_BASE=http://" + pub,
		"WIDGET_PPROF=true",
	}, env...)
	cmd, args := bin, []string(nil)
	if pin {
		cmd, args = "taskset", []string{"-c", "0", bin}
	}
	p, err := start(dir, name, cmd, args, env)
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, "http://"+internal+"/readyz", 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w (see %s)", name, err, filepath.Join(dir, name+".log"))
	}
	return &replica{proc: p, public: pub, internal: internal}, nil
}

// session is a minted session.
type session struct {
	ID    string `json:"sessionId"`
	Token string `json:"sessionToken"`
}

func measureService(ctx context.Context, cfg streamsConfig, bare float64, out func(string, ...any)) error {
	rp, redisAddr, err := redisServer(cfg.dir)
	if err != nil {
		return err
	}
	defer rp.stop()
	idpKey, _, caller, err := devAdmin(cfg.dir)
	if err != nil {
		return err
	}
	a, err := startReplica(ctx, cfg, "replica-a", redisAddr, idpKey)
	if err != nil {
		return err
	}
	defer a.stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

	began := time.Now()
	sessions, err := mintAll(ctx, client, a.public, caller, cfg.n)
	if err != nil {
		return err
	}
	out("minted %d sessions in %v", cfg.n, time.Since(began).Round(time.Millisecond))
	client.CloseIdleConnections()

	gc := "http://" + a.internal + "/debug/pprof/heap?gc=1"
	before, err := settledRSS(a.proc, gc)
	if err != nil {
		return err
	}
	goBefore, stackBefore, heapBefore := metric(a.internal, "go_goroutines"), metric(a.internal, "go_memstats_stack_inuse_bytes"), metric(a.internal, "go_memstats_heap_inuse_bytes")
	began = time.Now()
	conns, err := openAll(ctx, cfg.n, func(i int) (net.Conn, error) {
		return openWidgetStream(client, a.public, i, sessions[i])
	})
	defer closeAll(conns)
	if err != nil {
		return err
	}
	out("opened %d streams in %v", cfg.n, time.Since(began).Round(time.Millisecond))
	after, err := settledRSS(a.proc, gc)
	if err != nil {
		return err
	}
	if cfg.profiles != "" {
		if err := saveProfiles(cfg.profiles, a.internal); err != nil {
			return err
		}
	}
	perStream := float64(after-before) / float64(cfg.n)
	out("memory per open stream: %.1f KB (RSS %d MB → %d MB); bare net/http %.1f KB; ratio %.2f",
		perStream/1024, before>>20, after>>20, bare/1024, perStream/bare)
	out("per open stream: %.2f goroutines, %.1f KB of goroutine stacks, %.1f KB of heap in use",
		(metric(a.internal, "go_goroutines")-goBefore)/float64(cfg.n),
		(metric(a.internal, "go_memstats_stack_inuse_bytes")-stackBefore)/float64(cfg.n)/1024,
		(metric(a.internal, "go_memstats_heap_inuse_bytes")-heapBefore)/float64(cfg.n)/1024)

	// Idle: nothing happens for the window; the streams only heartbeat.
	cpu0, err := a.cpu()
	if err != nil {
		return err
	}
	cmd0, err := redisCommands(redisAddr)
	if err != nil {
		return err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(cfg.idle):
	}
	cpu1, _ := a.cpu()
	cmd1, _ := redisCommands(redisAddr)
	window := time.Since(t0)
	out("idle over %v: CPU %.2f%% of a core; Redis %.1f commands/s",
		window.Round(time.Second), 100*float64(cpu1-cpu0)/float64(window), float64(cmd1-cmd0-1)/window.Seconds())

	if err := firstDeltas(ctx, cfg, client, a, sessions, conns, out); err != nil {
		return err
	}

	// Replica B serves the edge only, validating with A's JWKS; each
	// revocation is made on A, and times the end of a stream on B.
	b, err := startReplica(ctx, cfg, "replica-b", redisAddr, idpKey,
		"WIDGET_SERVE=edge", "WIDGET_EDGE_JWKS=http://"+a.public+"/.well-known/jwks.json")
	if err != nil {
		return err
	}
	defer b.stop()
	return revocations(ctx, cfg, client, a, b, caller, sessions[cfg.n-cfg.revokes:], out)
}

// firstDeltas sends one message at a time to distinct sessions, and times
// the first response.delta on each session's open stream.
func firstDeltas(ctx context.Context, cfg streamsConfig, client *http.Client, a *replica, sessions []session, conns []net.Conn, out func(string, ...any)) error {
	var fromSent, fromAccepted []time.Duration
	for i := range cfg.messages {
		if err := ctx.Err(); err != nil {
			return err
		}
		seen := watch(conns[i], "response.delta")
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.public+"/v1/widget/sessions/"+sessions[i].ID+"/messages",
			strings.NewReader(`{"content":"What happened?"}`))
		req.Header.Set("Authorization", "Bearer "+sessions[i].Token)
		req.Header.Set("Content-Type", "application/json")
		sent := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		accepted := time.Now()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("message: status %d", resp.StatusCode)
		}
		select {
		case at := <-seen:
			if at.IsZero() {
				return errors.New("a stream ended before its first delta")
			}
			fromSent = append(fromSent, at.Sub(sent))
			fromAccepted = append(fromAccepted, max(at.Sub(accepted), 0))
		case <-time.After(10 * time.Second):
			return errors.New("no delta within 10s")
		}
	}
	out("first delta, %d messages to distinct sessions with %d streams open: from the 202 %s; from the POST %s",
		cfg.messages, cfg.n, percentiles(fromAccepted), percentiles(fromSent))
	return nil
}

// revocations opens a stream on B for each session, revokes the session on
// A, and times the end of B's stream.
func revocations(ctx context.Context, cfg streamsConfig, client *http.Client, a, b *replica, caller string, sessions []session, out func(string, ...any)) error {
	var from204, fromSent []time.Duration
	for i, s := range sessions {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := openWidgetStream(client, b.public, cfg.n+i, s)
		if err != nil {
			return fmt.Errorf("stream on B: %w", err)
		}
		ended := watch(c, "error")
		req, _ := http.NewRequest(http.MethodDelete, "http://"+a.public+"/v1/widget/sessions/"+s.ID, nil)
		req.Header.Set("Authorization", "Bearer "+caller)
		sent := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			c.Close()
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done := time.Now()
		if resp.StatusCode != http.StatusNoContent {
			c.Close()
			return fmt.Errorf("revoke: status %d", resp.StatusCode)
		}
		select {
		case at := <-ended:
			if at.IsZero() {
				c.Close()
				return errors.New("replica B's stream ended without its final error event")
			}
			from204 = append(from204, max(at.Sub(done), 0))
			fromSent = append(fromSent, at.Sub(sent))
		case <-time.After(10 * time.Second):
			c.Close()
			return errors.New("replica B's stream did not end within 10s of the revocation")
		}
		c.Close()
	}
	out("revocation on replica A → final error event on replica B, %d sessions: from the 204 %s; from the DELETE %s",
		len(sessions), percentiles(from204), percentiles(fromSent))
	return nil
}

// openWidgetStream opens s's stream on addr as the widget does: a stream
// ticket first (POST with the session token), then the EventSource's GET
// with the ticket in the query.
func openWidgetStream(client *http.Client, addr string, i int, s session) (net.Conn, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/widget/sessions/"+s.ID+"/stream-tickets", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var t struct {
		Ticket string `json:"ticket"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &t) != nil {
		return nil, fmt.Errorf("stream ticket: status %d: %s", resp.StatusCode, body)
	}
	return dialStream(addr, i, "/v1/widget/sessions/"+s.ID+"/stream?ticket="+url.QueryEscape(t.Ticket), "")
}

// mintAll mints n sessions with 8 concurrent requests.
func mintAll(ctx context.Context, client *http.Client, addr, caller string, n int) ([]session, error) {
	out := make([]session, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/widget/sessions", strings.NewReader(`{"userId":"user_alice"}`))
				req.Header.Set("Authorization", "Bearer "+caller)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("mint: status %d: %s", resp.StatusCode, body)
					return
				}
				if err := json.Unmarshal(body, &out[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return out, errors.Join(<-errs, ctx.Err())
}

// openAll opens n connections with 32 at a time.
func openAll(ctx context.Context, n int, dial func(i int) (net.Conn, error)) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dial(i)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	return conns, errors.Join(<-errs, ctx.Err())
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// perSourceAddr is how many connections leave from one loopback source
// address: fewer than the ephemeral ports of one address.
const perSourceAddr = 20000

// dialStream opens a stream the way a browser does, from the i-th
// connection's source address, and returns once its first comment has
// arrived: the server holds it.
func dialStream(addr string, i int, path, tok string) (net.Conn, error) {
	src := net.IPv4(127, 0, 0, byte(2+i/perSourceAddr))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nAccept: text/event-stream\r\n"
	if tok != "" {
		req += "Authorization: Bearer " + tok + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []byte
	buf := make([]byte, 1024)
	for !opened(got) {
		n, err := c.Read(buf)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("no stream: %w (%q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
		c.Close()
		return nil, fmt.Errorf("no stream: %q", got)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

// opened reports whether a response's head and its first comment (": stream
// ...", chunked or not) have arrived, or the response is not a stream.
func opened(got []byte) bool {
	head, body, ok := bytes.Cut(got, []byte("\r\n\r\n"))
	return ok && (!bytes.HasPrefix(head, []byte("HTTP/1.1 200")) || bytes.Contains(body, []byte(": stream")))
}

// watch reads c until an event of type typ (or the end of the stream) and
// sends the time it arrived (zero: the stream ended first).
func watch(c net.Conn, typ string) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ch <- time.Time{}
				return
			}
			if strings.TrimSpace(line) == "event: "+typ {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch
}

// saveProfiles saves the replica's heap and goroutine profiles in dir.
func saveProfiles(dir, internal string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, path := range map[string]string{"heap.pb.gz": "heap", "goroutine.pb.gz": "goroutine", "goroutine.txt": "goroutine?debug=1"} {
		resp, err := http.Get("http://" + internal + "/debug/pprof/" + path)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// metric reads one unlabelled gauge from the replica's /metrics.
func metric(internal, name string) float64 {
	resp, err := http.Get("http://" + internal + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var f float64
			_, _ = fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

// percentiles formats p50, p90, p99 and max.
func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "none"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[int(p*float64(len(s)-1)+0.5)] }
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("p50 %s, p90 %s, p99 %s, max %s", r(at(0.5)), r(at(0.9)), r(at(0.99)), r(s[len(s)-1]))
}
