package etcd

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/causeflow/widget-sessions/pkg/revoke"
)

// source is the etcd side of the mirror.
type source struct{ r *Revocations }

var _ revoke.Source = source{}

// Poll reads the version and the marker in one linearizable transaction:
// it needs the quorum, so a region cut off from it gets an error, and its
// mirror, unconfirmed, fails closed once the staleness budget is spent.
func (s source) Poll(ctx context.Context) (int64, bool, error) {
	r := s.r
	begin := time.Now()
	resp, err := r.cli.Txn(ctx).Then(clientv3.OpGet(r.version), clientv3.OpGet(r.marker)).Commit()
	if f := r.cfg.Observer.QuorumRead; f != nil {
		f(time.Since(begin), err)
	}
	if err != nil {
		return 0, false, fmt.Errorf("etcd: poll: %w: %w", revoke.ErrUnavailable, err)
	}
	v := int64(0)
	if kv := first(resp.Responses[0]); kv != nil {
		if v, err = strconv.ParseInt(string(kv.Value), 10, 64); err != nil {
			return 0, false, fmt.Errorf("etcd: malformed version %q", kv.Value)
		}
	}
	return v, first(resp.Responses[1]) != nil, nil
}

// Load reads the entries, the version and the marker at one revision. It
// first counts the entries: more than Limits.MaxEntries are not read at
// all, and the error wraps revoke.ErrTooMany.
func (s source) Load(ctx context.Context) (revoke.Snapshot, error) {
	r := s.r
	ctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	count, err := r.cli.Get(ctx, r.entries, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return revoke.Snapshot{}, fmt.Errorf("etcd: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	if count.Count > int64(r.cfg.Limits.MaxEntries) {
		return revoke.Snapshot{}, fmt.Errorf("etcd: %d revocation entries, more than %d: %w", count.Count, r.cfg.Limits.MaxEntries, revoke.ErrTooMany)
	}
	resp, err := r.cli.Txn(ctx).Then(clientv3.OpGet(r.entries, clientv3.WithPrefix()), clientv3.OpGet(r.version), clientv3.OpGet(r.marker)).Commit()
	if err != nil {
		return revoke.Snapshot{}, fmt.Errorf("etcd: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	snap := revoke.Snapshot{Marker: first(resp.Responses[2]) != nil}
	if kv := first(resp.Responses[1]); kv != nil {
		if snap.Version, err = strconv.ParseInt(string(kv.Value), 10, 64); err != nil {
			return revoke.Snapshot{}, fmt.Errorf("etcd: malformed version %q", kv.Value)
		}
	}
	cutoff := r.cfg.Now().Add(-PruneGrace).Unix()
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		e, err := r.parse(string(kv.Key), kv.Value)
		if err != nil {
			r.log.Error("skipping a malformed revocation entry", slog.String("key", string(kv.Key)), slog.Any("error", err))
			continue
		}
		if e.Expires.Unix() < cutoff {
			snap.Expired++
		}
		snap.Set.Add(e)
	}
	return snap, nil
}

// Mark writes the all entry and the marker when the marker is missing, and
// deletes a batch of entries expired for longer than PruneGrace (each only
// if unchanged since it was read).
func (s source) Mark(ctx context.Context) (revoke.Entry, bool, error) {
	r := s.r
	res, err := r.write(ctx, nil)
	if err != nil {
		return revoke.Entry{}, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	resp, err := r.cli.Get(ctx, r.entries, clientv3.WithPrefix())
	if err != nil {
		return res.all, res.emptied, fmt.Errorf("etcd: prune: %w: %w", revoke.ErrUnavailable, err)
	}
	cutoff := r.cfg.Now().Add(-PruneGrace).Unix()
	var cmps []clientv3.Cmp
	var dels []clientv3.Op
	for _, kv := range resp.Kvs {
		if _, expires, err := parseValue(kv.Value); err == nil && expires < cutoff && len(dels) < pruneBatch {
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision))
			dels = append(dels, clientv3.OpDelete(string(kv.Key)))
		}
	}
	if len(dels) > 0 {
		// A merge that extended an entry meanwhile fails the whole batch:
		// the next Mark prunes it.
		if _, err := r.cli.Txn(ctx).If(cmps...).Then(dels...).Commit(); err != nil {
			return res.all, res.emptied, fmt.Errorf("etcd: prune: %w: %w", revoke.ErrUnavailable, err)
		}
	}
	return res.all, res.emptied, nil
}

// Repair writes back the suspects the store does not hold. Most suspects
// are entries that arrived after the snapshot was taken, so they are read
// again first.
func (s source) Repair(ctx context.Context, suspects []revoke.Entry) (int, error) {
	r := s.r
	ctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	restored := 0
	for _, e := range suspects {
		resp, err := r.cli.Get(ctx, r.key(e))
		if err != nil {
			return restored, fmt.Errorf("etcd: repair: %w: %w", revoke.ErrUnavailable, err)
		}
		var stored revoke.Set
		if len(resp.Kvs) > 0 {
			if got, err := r.parse(string(resp.Kvs[0].Key), resp.Kvs[0].Value); err == nil {
				stored.Add(got)
			}
		}
		if stored.Covers(e) {
			continue
		}
		if _, err := r.write(ctx, &e); err != nil {
			return restored, err
		}
		restored++
	}
	return restored, nil
}
