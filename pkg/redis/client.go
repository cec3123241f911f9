package redis

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Client timings, chosen for failover: a dead master must cost a request
// a second or two, not the library defaults' five (dial) and three (read)
// seconds, times retries. A URL option of the same name wins.
const (
	dialTimeout     = time.Second
	readTimeout     = time.Second
	writeTimeout    = time.Second
	poolTimeout     = time.Second
	maxRetries      = 3
	minRetryBackoff = 10 * time.Millisecond
	maxRetryBackoff = 200 * time.Millisecond
	// A dial is tried once more, soon: go-redis's five dial attempts 100 ms
	// apart, nested in its command retries and the Cluster's redirects,
	// held one command for about four seconds against a killed master.
	dialerRetries      = 2
	dialerRetryTimeout = 20 * time.Millisecond
	// clusterReload is how often a Cluster client re-reads the slot map
	// anyway; it also re-reads it on MOVED and after any connection error
	// (reloadOnFailure).
	clusterReload = 5 * time.Second
)

// tuning names the URL options the constants above stand for, so that an
// option given in the URL is kept.
type tuning struct {
	query url.Values
}

func (t tuning) duration(name string, dflt time.Duration, dst *time.Duration) {
	if !t.query.Has(name) {
		*dst = dflt
	}
}

func (t tuning) int(name string, dflt int, dst *int) {
	if !t.query.Has(name) {
		*dst = dflt
	}
}

// timings are the options every client kind shares, as pointers into one.
type timings struct {
	dial, read, write, pool, minBackoff, maxBackoff, dialerBackoff *time.Duration
	retries, dialerRetries                                         *int
}

// apply sets the failover timings, unless the URL set them.
func (t tuning) apply(o timings) {
	t.duration("dial_timeout", dialTimeout, o.dial)
	t.duration("read_timeout", readTimeout, o.read)
	t.duration("write_timeout", writeTimeout, o.write)
	t.duration("pool_timeout", poolTimeout, o.pool)
	t.duration("min_retry_backoff", minRetryBackoff, o.minBackoff)
	t.duration("max_retry_backoff", maxRetryBackoff, o.maxBackoff)
	t.duration("dialer_retry_timeout", dialerRetryTimeout, o.dialerBackoff)
	t.int("max_retries", maxRetries, o.retries)
	t.int("dialer_retries", dialerRetries, o.dialerRetries)
}

// reloadOnFailure makes a Cluster client re-read the slot map as soon as
// a node fails to answer. go-redis re-reads it on MOVED, which a dead
// master never sends, and otherwise only every ClusterStateReloadInterval:
// without this hook a client kept dialling a killed master for up to that
// interval after its replica had taken over. ReloadState is asynchronous
// and coalesced (one reload at a time, a short cooldown), so a burst of
// failures costs one CLUSTER SLOTS.
type reloadOnFailure struct{ c *goredis.ClusterClient }

func (h reloadOnFailure) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.c.ReloadState(context.WithoutCancel(ctx))
		}
		return conn, err
	}
}

func (h reloadOnFailure) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if nodeFailure(err) {
			h.c.ReloadState(context.WithoutCancel(ctx))
		}
		return err
	}
}

func (h reloadOnFailure) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		if nodeFailure(err) {
			h.c.ReloadState(context.WithoutCancel(ctx))
		}
		return err
	}
}

// nodeFailure reports whether err says a node is gone or not serving: a
// connection error, a timeout, or a cluster that is down or reconfiguring.
// A Redis error reply about the command itself is not one.
func nodeFailure(err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, context.DeadlineExceeded):
		return true
	}
	msg := err.Error()
	for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING", "READONLY", "connection pool", "i/o timeout", "connection refused"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
