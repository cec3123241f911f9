package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeflow/widget-sessions/internal/devidp"
)

// hotConfig is what `wsload hot` runs.
type hotConfig struct {
	bin      string
	duration time.Duration
	rounds   int
	conns    int
	only     string
	dir      string
}

// wrkScript sends one fixed request, read from the environment.
const wrkScript = `wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
local auth = os.getenv("WRK_AUTHORIZATION")
if auth ~= nil and auth ~= "" then wrk.headers["Authorization"] = auth end
`

// target is one side of a comparison: a POST that wrk repeats, to the
// server proc, whose CPU time each run reads.
type target struct {
	url, body, contentType, authorization string
	proc                                  *proc
}

// scenario compares the service's handling of a request with the bare
// baseline's.
type scenario struct {
	name       string
	bare, ours target
}

// hot drives the mint and introspection paths of the service and of the
// bare baseline (wsload bare-api) with wrk, in alternating runs of the same
// length, each server pinned to core 0 with GOMAXPROCS=1 and wrk on core 1,
// and prints the ratio of their throughputs and their latency percentiles.
func hot(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("hot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg hotConfig
	fs.StringVar(&cfg.bin, "bin", "bin/widget-sessions", "the service's binary")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "the length of each measured run")
	fs.IntVar(&cfg.rounds, "rounds", 7, "pairs of runs (bare and ours, in alternating order) per scenario")
	fs.IntVar(&cfg.conns, "connections", 32, "wrk's connections")
	fs.StringVar(&cfg.only, "only", "", "run only the scenarios whose name contains this")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, tool := range []string{"wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed (make load installs wrk)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "wsload-hot-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil { // the servers' logs tell why
			err = fmt.Errorf("%w (the servers' logs are in %s)", err, dir)
			return
		}
		os.RemoveAll(dir)
	}()
	cfg.dir = dir
	script := filepath.Join(dir, "post.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return err
	}
	out := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }

	rp, redisAddr, err := redisServer(dir)
	if err != nil {
		return err
	}
	defer rp.stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bareAddr, err := freeAddr()
	if err != nil {
		return err
	}
	bare, err := start(dir, "bare", "taskset", []string{"-c", "0", self, "bare-api", "-addr", bareAddr}, []string{"GOMAXPROCS=1"})
	if err != nil {
		return err
	}
	defer bare.stop()
	if err := waitHTTP(ctx, "http://"+bareAddr+"/ready", 10*time.Second); err != nil {
		return err
	}
	idpKey, idp, admin, err := devAdmin(dir)
	if err != nil {
		return err
	}
	gateway, err := idp.Token(devidp.TokenRequest{Tenant: "causeflow", Subject: "gateway", Roles: []string{"service"}, TTL: 4 * time.Hour})
	if err != nil {
		return err
	}
	memory, err := startHotReplica(ctx, cfg, "memory", "", idpKey)
	if err != nil {
		return err
	}
	defer memory.stop()
	onRedis, err := startHotReplica(ctx, cfg, "redis", redisAddr, idpKey)
	if err != nil {
		return err
	}
	defer onRedis.stop()
	sessionToken, err := mintOne(onRedis.public, admin)
	if err != nil {
		return err
	}
	bareToken, err := get("http://" + bareAddr + "/token")
	if err != nil {
		return err
	}

	const mintBody, incidentBody = `{"userId":"user_alice"}`, `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`
	// The bare server is sent the same requests, Authorization header
	// included: it reads the header as any server must, and checks
	// nothing.
	bareMint := func(body string) target {
		return target{url: "http://" + bareAddr + "/mint", body: body, contentType: "application/json", authorization: "Bearer " + admin, proc: bare}
	}
	oursMint := func(r *replica, body string) target {
		return target{url: "http://" + r.public + "/v1/widget/sessions", body: body, contentType: "application/json", authorization: "Bearer " + admin, proc: r.proc}
	}
	form := "application/x-www-form-urlencoded"
	scenarios := []scenario{
		{"mint, memory stores", bareMint(mintBody), oursMint(memory, mintBody)},
		{"mint with an incident, Redis", bareMint(incidentBody), oursMint(onRedis, incidentBody)},
		{"introspection, Redis mirror",
			target{url: "http://" + bareAddr + "/introspect", body: "token=" + url.QueryEscape(bareToken), contentType: form, authorization: "Bearer " + gateway, proc: bare},
			target{url: "http://" + onRedis.public + "/v1/widget/tokens/introspect", body: "token=" + url.QueryEscape(sessionToken), contentType: form, authorization: "Bearer " + gateway, proc: onRedis.proc}},
	}
	out("wsload hot: each server on core 0 (GOMAXPROCS=1), wrk on core 1 (%d connections); per path, %d rounds of %v runs: ours and bare alone, one after the other, then both at once sharing core 0", cfg.conns, cfg.rounds, cfg.duration)
	out("%-30s %12s %12s %-19s %9s %-21s   %-22s %-22s", "path", "bare req/s", "ours req/s", "alternating (range)", "sharing", "CPU/req bare, ours", "bare p50 / p99", "ours p50 / p99")
	for _, sc := range scenarios {
		if !strings.Contains(sc.name, cfg.only) {
			continue
		}
		if err := compare(ctx, cfg, script, sc, out); err != nil {
			return fmt.Errorf("%s: %w", sc.name, err)
		}
	}
	return nil
}

// compare warms both sides, then measures their ratio two ways, each
// cfg.rounds times:
//   - alternating: runs of each alone, in pairs one right after the other
//     and in alternating order, so that what the machine's neighbours do
//     weighs on both sides of a pair alike;
//   - sharing: both loaded at once, each by half the connections, so that
//     they share core 0 and every moment of it. With both saturated, the
//     scheduler gives each half the core, and the ratio of throughputs is
//     the ratio of costs per request, whatever the neighbours do.
//
// Each run also reads the CPU time its server used, from the kernel's
// accounting, and divides it by the requests served: the cost per request,
// which neither the scheduler's split of the core nor a neighbour's load
// on the machine changes much.
//
// It prints the median throughput of each side run alone, the median ratio
// of each way with the alternating range, the median CPU per request of
// each side over all its runs and their ratio, and the latency percentiles
// of each side's median run alone.
func compare(ctx context.Context, cfg hotConfig, script string, sc scenario, out func(string, ...any)) error {
	for _, t := range []target{sc.bare, sc.ours} {
		if _, err := runWrk(ctx, cfg.conns, script, t, 2*time.Second); err != nil {
			return err
		}
	}
	var bare, ours []wrkResult
	var ratios, shared []float64
	var bareCPU, oursCPU []time.Duration
	for i := range cfg.rounds {
		first, second := sc.bare, sc.ours
		if i%2 == 1 {
			first, second = second, first
		}
		a, err := runWrk(ctx, cfg.conns, script, first, cfg.duration)
		if err != nil {
			return err
		}
		b, err := runWrk(ctx, cfg.conns, script, second, cfg.duration)
		if err != nil {
			return err
		}
		if i%2 == 1 {
			a, b = b, a
		}
		bare, ours, ratios = append(bare, a), append(ours, b), append(ratios, b.rps/a.rps)

		var sa, sb wrkResult
		var ea, eb error
		var wg sync.WaitGroup
		wg.Go(func() { sa, ea = runWrk(ctx, max(1, cfg.conns/2), script, sc.bare, cfg.duration) })
		wg.Go(func() { sb, eb = runWrk(ctx, max(1, cfg.conns/2), script, sc.ours, cfg.duration) })
		wg.Wait()
		if err := errors.Join(ea, eb); err != nil {
			return err
		}
		shared = append(shared, sb.rps/sa.rps)
		bareCPU = append(bareCPU, a.cpuPerRequest, sa.cpuPerRequest)
		oursCPU = append(oursCPU, b.cpuPerRequest, sb.cpuPerRequest)
	}
	b, o := median(bare), median(ours)
	slices.Sort(ratios)
	slices.Sort(shared)
	slices.Sort(bareCPU)
	slices.Sort(oursCPU)
	bc, oc := bareCPU[len(bareCPU)/2], oursCPU[len(oursCPU)/2]
	out("%-30s %12.0f %12.0f %6.2fx (%.2f-%.2f) %8.2fx %-21s   %-22s %-22s", sc.name, b.rps, o.rps,
		ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], shared[len(shared)/2],
		fmt.Sprintf("%.1f, %.1fus %.2fx", us(bc), us(oc), float64(bc)/float64(oc)),
		b.p50.String()+" / "+b.p99.String(), o.p50.String()+" / "+o.p99.String())
	return nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

type wrkResult struct {
	rps           float64
	p50, p99      time.Duration
	cpuPerRequest time.Duration // the server's CPU time over the requests it answered
}

func median(rs []wrkResult) wrkResult {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b wrkResult) int { return int(a.rps - b.rps) })
	return rs[len(rs)/2]
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkCount   = regexp.MustCompile(`(\d+) requests in`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: .*`)
)

// runWrk runs wrk on core 1 against t for d and reads its report. A run
// with any non-2xx answer or socket error is an error: it would measure
// refusals, not the path. A run in which every connection timed out once
// is run again, once, and said on stderr: that is the whole machine pausing
// for wrk's 2 s (it happened here, on a shared VM), not the server.
func runWrk(ctx context.Context, conns int, script string, t target, d time.Duration) (wrkResult, error) {
	r, err := runWrkOnce(ctx, conns, script, t, d)
	if errors.Is(err, errAllTimedOut) {
		fmt.Fprintf(os.Stderr, "wsload: %v; running it again\n", err)
		r, err = runWrkOnce(ctx, conns, script, t, d)
	}
	return r, err
}

var errAllTimedOut = errors.New("every connection timed out once")

func runWrkOnce(ctx context.Context, conns int, script string, t target, d time.Duration) (wrkResult, error) {
	cmd := exec.CommandContext(ctx, "taskset", "-c", "1", "wrk", "-t1", "-c"+strconv.Itoa(conns), "-d"+d.String(), "--latency", "-s", script, t.url)
	cmd.Env = append(os.Environ(), "WRK_BODY="+t.body, "WRK_CONTENT_TYPE="+t.contentType, "WRK_AUTHORIZATION="+t.authorization)
	cpu0, err := t.proc.cpu()
	if err != nil {
		return wrkResult{}, err
	}
	b, err := cmd.CombinedOutput()
	report := string(b)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, report)
	}
	cpu1, err := t.proc.cpu()
	if err != nil {
		return wrkResult{}, err
	}
	if m := wrkNon2xx.FindStringSubmatch(report); m != nil {
		return wrkResult{}, fmt.Errorf("wrk: %s non-2xx answers from %s", m[1], t.url)
	}
	if m := wrkSockErr.FindString(report); m != "" {
		if m == fmt.Sprintf("Socket errors: connect 0, read 0, write 0, timeout %d", conns) {
			return wrkResult{}, fmt.Errorf("wrk: %w (%s)", errAllTimedOut, t.url)
		}
		return wrkResult{}, fmt.Errorf("wrk: %s (%s)", m, t.url)
	}
	m := wrkRPS.FindStringSubmatch(report)
	if m == nil {
		return wrkResult{}, fmt.Errorf("wrk: no Requests/sec in %q", report)
	}
	var r wrkResult
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	// wrk counts the requests it sent in its duration; the server answered
	// each (no socket error, checked above).
	if c := wrkCount.FindStringSubmatch(report); c != nil {
		if n, _ := strconv.ParseInt(c[1], 10, 64); n > 0 {
			r.cpuPerRequest = (cpu1 - cpu0) / time.Duration(n)
		}
	}
	for _, p := range wrkPct.FindAllStringSubmatch(report, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]
		d := time.Duration(v * float64(unit)).Round(time.Microsecond)
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}

// startHotReplica starts the service pinned to core 0, on Redis when
// redisAddr is set and on its in-memory stores otherwise, with the one
// tenant's budgets lifted: they are not what is measured. It logs at info,
// as in production: the access log is part of the path.
func startHotReplica(ctx context.Context, cfg hotConfig, name, redisAddr, idpKey string) (*replica, error) {
	env := []string{"WIDGET_DEV_IDP_KEY=" + idpKey, "WIDGET_MINT_RATE_LIMIT=100000000"}
	if redisAddr != "" {
		env = append(env, "WIDGET_REDIS_URL=redis://"+redisAddr)
	}
	return launchReplica(ctx, cfg.dir, name, cfg.bin, true, env)
}

// mintOne mints a session on the service at addr and returns its token.
func mintOne(addr, caller string) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/widget/sessions", strings.NewReader(`{"userId":"user_alice","ttlSeconds":3600}`))
	req.Header.Set("Authorization", "Bearer "+caller)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var s session
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != http.StatusCreated {
		return "", errors.Join(fmt.Errorf("mint: status %d", resp.StatusCode), err)
	}
	return s.Token, nil
}

func get(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
