package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// ErrNotReplicated is wrapped by the error of a write that the master
// applied but fewer than Replication.MinReplicas replicas confirmed within
// Replication.Timeout. The write is on the master and will most likely
// reach the replicas; but a failover now could lose it, so it was not
// acknowledged. Writing it again is harmless: every write of this package
// is idempotent.
var ErrNotReplicated = errors.New("redis: write not confirmed by enough replicas")

// Replication says when a write counts as acknowledged: once the master
// has applied it and MinReplicas replicas have confirmed it (Redis's WAIT),
// within Timeout. With MinReplicas 0 a write is acknowledged when the
// master has applied it, and a failover to a replica that had not received
// it loses it.
type Replication struct {
	MinReplicas int
	Timeout     time.Duration
	// Shortfall, when set, is told of every write not confirmed in time
	// (what names the write: revocation, ticket, event), for a metric.
	Shortfall func(what string)
}

// DefaultReplicationTimeout bounds the wait for replicas.
const DefaultReplicationTimeout = 500 * time.Millisecond

// Exec runs the commands queue adds, on the connection of the master that
// holds key, then WAITs for r.MinReplicas replicas on that same connection
// (WAIT counts the writes of its own connection, which is why a pipeline
// on one node's client is used rather than the shared pool). queue is
// called again with eval set when the master does not know a script yet.
func (r Replication) Exec(ctx context.Context, client goredis.UniversalClient, key, what string, queue func(p goredis.Pipeliner, eval bool)) error {
	cluster, _ := client.(*goredis.ClusterClient)
	var err error
	for attempt := range clusterAttempts {
		if attempt > 0 {
			// A node's own client follows no redirect: have the Cluster
			// client re-read the slot map, and find the master again.
			cluster.ReloadState(context.WithoutCancel(ctx))
			if sleep(ctx, time.Duration(attempt)*100*time.Millisecond); ctx.Err() != nil {
				return ctx.Err()
			}
		}
		var node *goredis.Client
		if node, err = masterFor(ctx, client, key); err != nil {
			if cluster == nil {
				return err
			}
			continue
		}
		var wait *goredis.IntCmd
		if wait, err = r.execOn(ctx, node, queue); err == nil {
			if wait != nil && wait.Val() < int64(r.MinReplicas) {
				if r.Shortfall != nil {
					r.Shortfall(what)
				}
				return fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, wait.Val(), r.MinReplicas, r.WaitTimeout())
			}
			return nil
		}
		if cluster == nil || !(nodeFailure(err) || strings.HasPrefix(err.Error(), "MOVED")) {
			return err
		}
	}
	return err
}

// clusterAttempts bounds the tries of a write on a Cluster whose slot map
// is changing (a failover, a resharding).
const clusterAttempts = 3

// execOn runs the queued commands, and WAIT when replicas are required, in
// one pipeline on node: one connection.
func (r Replication) execOn(ctx context.Context, node *goredis.Client, queue func(p goredis.Pipeliner, eval bool)) (*goredis.IntCmd, error) {
	run := func(eval bool) ([]goredis.Cmder, *goredis.IntCmd, error) {
		p := node.Pipeline()
		queue(p, eval)
		var wait *goredis.IntCmd
		if r.MinReplicas > 0 {
			wait = goredis.NewIntCmd(ctx, "wait", r.MinReplicas, r.WaitTimeout().Milliseconds())
			_ = p.Process(ctx, wait)
		}
		cmds, err := p.Exec(ctx)
		return cmds, wait, err
	}
	cmds, wait, err := run(false)
	if err != nil && noScript(cmds) {
		cmds, wait, err = run(true)
	}
	if err != nil {
		return nil, firstError(cmds, err)
	}
	return wait, nil
}

// WaitTimeout is Timeout, or DefaultReplicationTimeout when Timeout is not
// set.
func (r Replication) WaitTimeout() time.Duration {
	if r.Timeout <= 0 {
		return DefaultReplicationTimeout
	}
	return r.Timeout
}

// masterFor returns the client of the master holding key: the client
// itself for one server or Sentinel, the slot's master on a Cluster.
func masterFor(ctx context.Context, client goredis.UniversalClient, key string) (*goredis.Client, error) {
	switch c := client.(type) {
	case *goredis.Client:
		return c, nil
	case *goredis.ClusterClient:
		return c.MasterForKey(ctx, key)
	default:
		return nil, fmt.Errorf("redis: unsupported client %T", client)
	}
}

// noScript reports whether a command failed because the server does not
// know a script's SHA (a new master after a failover, a restarted server).
func noScript(cmds []goredis.Cmder) bool {
	for _, c := range cmds {
		if err := c.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

// firstError returns the first command's error, else err.
func firstError(cmds []goredis.Cmder, err error) error {
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, goredis.Nil) {
			return e
		}
	}
	return err
}

// QueueScript queues script on p: by its SHA, or whole when eval is set,
// as an Exec queue function does.
func QueueScript(ctx context.Context, p goredis.Pipeliner, script *goredis.Script, eval bool, keys []string, args ...any) *goredis.Cmd {
	if eval {
		return script.Eval(ctx, p, keys, args...)
	}
	return script.EvalSha(ctx, p, keys, args...)
}
