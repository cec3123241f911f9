// Package etcd is the revocation store of a deployment in several
// regions: etcd, one raft group with a member in each region, so that a
// revocation acknowledged (204) is durable in a majority of regions and
// every region's replicas hold it within a second.
//
// It is the Redis store's twin (pkg/redis.Revocations) over the same
// revoke.Mirror: a thin adapter (the write transaction, and the reads and
// repairs of revoke.Source) fed by one etcd watch. What differs is what an
// acknowledgement means (a raft commit by a majority of members, not a
// Redis master and its replicas) and how currency is proven: every poll is
// a linearizable read of the store's version, which the mirror must have
// reached by the next poll, so a region cut off from the quorum (whose
// reads fail) stops vouching for its copy within the staleness budget and
// fails closed, never open.
//
// # Layout (under Config.Prefix, "/widget-sessions/revocations/" by default)
//
//	e/<tenant>/<kind>/<subject>  {"bms":MS,"expires":S}: one entry; tenant and
//	                             subject path-escaped; bms is the revocation
//	                             time in Unix milliseconds (0 for a session)
//	version                      incremented by every transaction that writes
//	                             entries: the mirror's version
//	marker                       written once; its absence means the store
//	                             lost its data (a new cluster): every token
//	                             issued before the detection is revoked
//	canary/<region>              the time (Unix ms) the region last wrote it:
//	                             its propagation canary (see Canary)
//
// Every write is one transaction that compares the version key's
// revision with the one it read: writes are serialised, a new entry merges
// with the stored one by the later cutoff and expiry, and a tenant's cap is
// checked against what the transaction saw.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// DefaultPrefix is where the store's keys live unless Config.Prefix says
// otherwise.
const DefaultPrefix = "/widget-sessions/revocations/"

// PruneGrace is how long past its expiry an entry is kept before Mark
// deletes it: validators' clocks may lag.
const PruneGrace = 5 * time.Minute

// maxAttempts bounds the retries of a write whose transaction lost the race
// to another writer.
const maxAttempts = 32

// pruneBatch bounds the entries one Mark deletes.
const pruneBatch = 500

// Config configures Revocations. The zero value takes every default but
// needs a client.
type Config struct {
	// Prefix is the keys' prefix; it ends with "/". Default DefaultPrefix.
	Prefix string
	// The mirror's intervals (see revoke.MirrorConfig). The staleness
	// budget must exceed an election of the etcd cluster (its election
	// timeout): within it, a region that lost the quorum keeps answering
	// from its copy; past it, it fails closed. Default 5 s.
	PollInterval, ResyncInterval, StalenessBudget time.Duration
	// Leeway is the validators' clock-skew leeway. Default 30 s.
	Leeway time.Duration
	// OpTimeout bounds each operation on etcd: a revocation's write (its
	// retries included), a load, a repair. Past it, a revocation is 503:
	// without the quorum, etcd never commits. Default 3 s: above an
	// election, far below a client's patience.
	OpTimeout time.Duration
	Limits    revoke.Limits
	Now       func() time.Time
	Logger    *slog.Logger
	// Observer is told what the store does, for metrics.
	Observer Observer
}

// Observer receives what the store measures. Every field may be nil.
type Observer struct {
	// RevocationWrite is told how long an acknowledged write took, and
	// whether it failed.
	RevocationWrite func(d time.Duration, err error)
	// Resync is told of every full load of the mirror (see
	// revoke.MirrorConfig.OnResync).
	Resync func(reason string)
	// QuorumRead is told how long each poll's linearizable read took,
	// and whether it failed: a read that needs the quorum, so its
	// latency is the round trip to the raft leader's region.
	QuorumRead func(d time.Duration, err error)
	// Rewatch is told each time the watch is established again after it
	// broke.
	Rewatch func()
	// Canary is told of each region's canary as the watch delivers it:
	// the region that wrote it, and when (its clock).
	Canary func(origin string, sent time.Time)
}

func (c Config) withDefaults() (Config, error) {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		return c, fmt.Errorf("etcd: prefix %q must end with /", c.Prefix)
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 3 * time.Second
	}
	if c.Limits.MaxPerTenant <= 0 {
		c.Limits.MaxPerTenant = revoke.DefaultMaxPerTenant
	}
	if c.Limits.MaxEntries <= 0 {
		c.Limits.MaxEntries = revoke.DefaultMaxEntries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Revocations is the revocation store on etcd and, on every replica, the
// in-memory mirror of it. It is safe for concurrent use.
type Revocations struct {
	cli    *clientv3.Client
	cfg    Config
	log    *slog.Logger
	mirror *revoke.Mirror

	entries, version, marker, canary string

	runMu   sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New returns the store over cli, not yet started: it can write at once,
// but IsRevoked fails closed until Start has synced.
func New(cli *clientv3.Client, cfg Config) (*Revocations, error) {
	if cli == nil {
		return nil, errors.New("etcd: revocations need a client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Revocations{
		cli: cli, cfg: cfg, log: cfg.Logger.With(slog.String("component", "revocations")),
		entries: cfg.Prefix + "e/", version: cfg.Prefix + "version", marker: cfg.Prefix + "marker", canary: cfg.Prefix + "canary/",
	}
	r.mirror, err = revoke.NewMirror(source{r}, revoke.MirrorConfig{
		PollInterval: cfg.PollInterval, ResyncInterval: cfg.ResyncInterval,
		StalenessBudget: cfg.StalenessBudget, Leeway: cfg.Leeway,
		MaxEntries: cfg.Limits.MaxEntries, Now: cfg.Now, Logger: r.log,
		OnResync: cfg.Observer.Resync,
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Start watches the store, loads the whole set and keeps the mirror
// current in the background until ctx is done or Close is called. It
// returns an error, and starts nothing, when the first load fails: a
// replica must not serve with an unknown set.
func (r *Revocations) Start(ctx context.Context) error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.started {
		return errors.New("etcd: revocations already started")
	}
	runCtx, cancel := context.WithCancel(ctx)
	// Watch before loading, so that nothing written in between is missed;
	// the watch is up once etcd has created it.
	created := make(chan struct{})
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.watch(runCtx, created) }()
	select {
	case <-created:
	case <-ctx.Done():
		cancel()
		r.wg.Wait()
		return ctx.Err()
	}
	if err := r.mirror.Sync(ctx); err != nil {
		cancel()
		r.wg.Wait()
		return err
	}
	r.started, r.cancel = true, cancel
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.mirror.Run(runCtx) }()
	r.mirror.WaitOutAllSecond(ctx)
	return nil
}

// Close stops the background work; IsRevoked fails closed from then on. It
// does not close the client, which the caller owns.
func (r *Revocations) Close() error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
		r.cancel = nil
	}
	r.mirror.Close()
	return nil
}

// Revoke writes e in one transaction and returns once etcd committed it:
// a majority of the members (of the regions) hold it. Any failure returns
// an error wrapping revoke.ErrUnavailable (the entry may or may not have
// been committed; writing it again is harmless), or revoke.ErrTenantLimit.
func (r *Revocations) Revoke(ctx context.Context, e revoke.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	begin := time.Now()
	res, err := r.write(ctx, &e)
	if res.emptied {
		r.mirror.Apply(res.all)
		r.mirror.RequestResync("loss")
	}
	if res.written {
		r.mirror.Apply(res.stored)
	}
	if f := r.cfg.Observer.RevocationWrite; f != nil {
		f(time.Since(begin), err)
	}
	return err
}

// IsRevoked reports whether a token with claims c is revoked, from the
// mirror; its error wraps revoke.ErrStale when the mirror cannot vouch for
// its currency. It never does I/O.
func (r *Revocations) IsRevoked(c *token.Claims) (bool, error) { return r.mirror.IsRevoked(c) }

// Fresh returns nil when the mirror is current within the staleness
// budget: the readiness check.
func (r *Revocations) Fresh() error { return r.mirror.Fresh() }

// Age returns how long ago the mirror was last confirmed current.
func (r *Revocations) Age() time.Duration { return r.mirror.Age() }

// Subscribe calls fn with each entry that revokes more than the mirror held
// before, until cancel is called.
func (r *Revocations) Subscribe(fn func(revoke.Entry)) (cancel func()) {
	return r.mirror.Subscribe(fn)
}

// Len returns the number of entries in the mirror.
func (r *Revocations) Len() int { return r.mirror.Len() }

// Entries returns the mirror's entries.
func (r *Revocations) Entries() []revoke.Entry { return r.mirror.Entries() }

// watch feeds the mirror from an etcd watch of the prefix until ctx ends:
// each entry put is applied as it arrives, then the version of its
// transaction noted. The watch requires a leader: on a member cut off from
// the quorum it breaks, and while it is broken the mirror polls (and fails
// closed once its polls cannot prove it current). Every watch established
// again is followed by a full re-sync.
func (r *Revocations) watch(ctx context.Context, created chan<- struct{}) {
	first := true
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := r.cli.Watch(wctx, r.cfg.Prefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		up := false
		var werr error
		for resp := range wch {
			if err := resp.Err(); err != nil {
				werr = err
				r.log.Warn("revocation watch broken; polling until it is back", slog.Any("error", err))
				break
			}
			if resp.Created {
				up, backoff = true, 50*time.Millisecond
				r.mirror.FeedDown(false)
				if first {
					first = false
					close(created)
				} else {
					r.mirror.RequestResync("gap")
					if f := r.cfg.Observer.Rewatch; f != nil {
						f()
					}
				}
				continue
			}
			r.apply(resp.Events)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		// A watch broken for want of a leader (an election, or this
		// member cut off from the quorum) keeps the staleness budget: no
		// write can commit without a leader, and a member cut off stops
		// vouching once its polls fail for the budget. Shortening it, as
		// for any other break, would fail every region closed for the
		// length of each election.
		if (up || first) && !errors.Is(werr, rpctypes.ErrNoLeader) {
			r.mirror.FeedDown(true)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// Short: healing is as quick as the watch is back.
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

// apply applies the entries of one watch response, then notes the
// versions its transactions wrote.
func (r *Revocations) apply(evs []*clientv3.Event) {
	var versions []int64
	for _, ev := range evs {
		if ev.Type != clientv3.EventTypePut {
			continue // entries only leave by expiring; a delete is a prune
		}
		key := string(ev.Kv.Key)
		switch {
		case key == r.version:
			v, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64)
			if err != nil {
				r.log.Error("malformed revocation version; re-syncing", slog.String("value", string(ev.Kv.Value)))
				r.mirror.RequestResync("gap")
				continue
			}
			versions = append(versions, v)
		case strings.HasPrefix(key, r.canary):
			ms, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64)
			if f := r.cfg.Observer.Canary; f != nil && err == nil {
				f(strings.TrimPrefix(key, r.canary), time.UnixMilli(ms))
			}
		case strings.HasPrefix(key, r.entries):
			e, err := r.parse(key, ev.Kv.Value)
			if err != nil {
				r.log.Error("malformed revocation entry; re-syncing", slog.String("key", key), slog.Any("error", err))
				r.mirror.RequestResync("gap")
				continue
			}
			if r.mirror.Apply(e) && e.Kind == revoke.KindAll {
				r.log.Warn("every token issued at or before a time is revoked (the etcd store was found empty)", slog.Time("revokedBefore", e.Before))
			}
		}
	}
	for _, v := range versions {
		r.mirror.Noted(v)
	}
}

// Canary writes region's propagation canary: the time now, committed as a
// revocation is (by a majority of the members) and delivered by the same
// watch to every replica of every region, which times it (Observer.Canary).
// It revokes nothing.
func (r *Revocations) Canary(ctx context.Context, region string) error {
	if _, err := r.cli.Put(ctx, r.canary+region, strconv.FormatInt(r.cfg.Now().UnixMilli(), 10)); err != nil {
		return fmt.Errorf("etcd: canary: %w: %w", revoke.ErrUnavailable, err)
	}
	return nil
}

// key is where e is stored.
func (r *Revocations) key(e revoke.Entry) string {
	return r.entries + url.PathEscape(e.Tenant) + "/" + e.Kind.String() + "/" + url.PathEscape(e.Subject)
}

// tenantPrefix holds every entry of tenant.
func (r *Revocations) tenantPrefix(tenant string) string {
	return r.entries + url.PathEscape(tenant) + "/"
}

// value is e's stored form.
func value(bms, expires int64) string {
	return `{"bms":` + strconv.FormatInt(bms, 10) + `,"expires":` + strconv.FormatInt(expires, 10) + `}`
}

// parseValue reads a stored value.
func parseValue(v []byte) (bms, expires int64, err error) {
	s := string(v)
	if rest, ok := strings.CutPrefix(s, `{"bms":`); ok {
		if b, rest, ok := strings.Cut(rest, `,"expires":`); ok {
			if x, ok := strings.CutSuffix(rest, "}"); ok {
				bms, err1 := strconv.ParseInt(b, 10, 64)
				expires, err2 := strconv.ParseInt(x, 10, 64)
				if err1 == nil && err2 == nil {
					return bms, expires, nil
				}
			}
		}
	}
	return 0, 0, fmt.Errorf("etcd: malformed revocation value %q", s)
}

// parse rebuilds an entry from its key and value.
func (r *Revocations) parse(key string, v []byte) (revoke.Entry, error) {
	parts := strings.Split(strings.TrimPrefix(key, r.entries), "/")
	if len(parts) != 3 {
		return revoke.Entry{}, fmt.Errorf("etcd: malformed revocation key %q", key)
	}
	kind, err := revoke.ParseKind(parts[1])
	if err != nil {
		return revoke.Entry{}, err
	}
	tenant, err1 := url.PathUnescape(parts[0])
	subject, err2 := url.PathUnescape(parts[2])
	if err := errors.Join(err1, err2); err != nil {
		return revoke.Entry{}, fmt.Errorf("etcd: malformed revocation key %q: %w", key, err)
	}
	bms, expires, err := parseValue(v)
	if err != nil {
		return revoke.Entry{}, err
	}
	e := revoke.Entry{Kind: kind, Tenant: tenant, Subject: subject, Expires: time.Unix(expires, 0)}
	if kind != revoke.KindSession {
		e.Before = time.UnixMilli(bms)
	}
	return e, nil
}

// writeResult is what a write stored.
type writeResult struct {
	emptied bool         // the marker was missing: all was written first
	all     revoke.Entry // the all entry, as stored
	written bool         // stored holds the entry written
	stored  revoke.Entry
}

// errRace is a transaction that lost to another writer: read again.
var errRace = errors.New("etcd: another write came first")

// write stores e (nil: only makes sure of the marker) in one transaction,
// retried while other writers come first.
func (r *Revocations) write(ctx context.Context, e *revoke.Entry) (writeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.OpTimeout)
	defer cancel()
	for attempt := range maxAttempts {
		// The first attempt reads from the member's own state, without a
		// round trip to the leader: the write compares the version it
		// read, so a stale read only fails the compare, and the next
		// attempt reads linearizably.
		res, err := r.writeOnce(ctx, e, attempt == 0)
		if !errors.Is(err, errRace) {
			return res, err
		}
	}
	return writeResult{}, fmt.Errorf("etcd: revocation not recorded: %d writers came first: %w", maxAttempts, revoke.ErrUnavailable)
}

func (r *Revocations) writeOnce(ctx context.Context, e *revoke.Entry, local bool) (writeResult, error) {
	var out writeResult
	now := r.cfg.Now()
	all := revoke.AllEntry(now, r.cfg.Leeway)
	maxExpires := all.Expires.Unix() // now + MaxTTL + leeway, as every bound
	var opts []clientv3.OpOption
	if local {
		opts = append(opts, clientv3.WithSerializable())
	}
	reads := []clientv3.Op{clientv3.OpGet(r.version, opts...), clientv3.OpGet(r.marker, opts...), clientv3.OpGet(r.key(all), opts...)}
	if e != nil {
		reads = append(reads, clientv3.OpGet(r.key(*e), opts...))
		if e.Capped() {
			reads = append(reads,
				clientv3.OpGet(r.tenantPrefix(e.Tenant)+revoke.KindSession.String()+"/", append([]clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}, opts...)...),
				clientv3.OpGet(r.tenantPrefix(e.Tenant)+revoke.KindUser.String()+"/", append([]clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithCountOnly()}, opts...)...))
		}
	}
	got, err := r.cli.Txn(ctx).Then(reads...).Commit()
	if err != nil {
		return out, fmt.Errorf("etcd: revocation not recorded: %w: %w", revoke.ErrUnavailable, err)
	}
	rs := got.Responses
	versionKV := first(rs[0])
	version, vrev := int64(0), int64(0)
	if versionKV != nil {
		vrev = versionKV.ModRevision
		if version, err = strconv.ParseInt(string(versionKV.Value), 10, 64); err != nil {
			return out, fmt.Errorf("etcd: malformed version %q: %w", versionKV.Value, revoke.ErrUnavailable)
		}
	}
	var cmp clientv3.Cmp
	if versionKV == nil {
		cmp = clientv3.Compare(clientv3.CreateRevision(r.version), "=", 0)
	} else {
		cmp = clientv3.Compare(clientv3.ModRevision(r.version), "=", vrev)
	}
	var puts []clientv3.Op
	merge := func(cur *etcdserverpb.ResponseOp, x revoke.Entry) revoke.Entry {
		bms, expires := int64(0), x.Expires.Unix()
		if x.Kind != revoke.KindSession {
			bms = x.Before.UnixMilli()
		}
		if kv := first(cur); kv != nil {
			if cb, ce, err := parseValue(kv.Value); err == nil {
				bms, expires = max(bms, cb), max(expires, ce)
			}
		}
		expires = min(expires, maxExpires)
		puts = append(puts, clientv3.OpPut(r.key(x), value(bms, expires)))
		x.Expires = time.Unix(expires, 0)
		if x.Kind != revoke.KindSession {
			x.Before = time.UnixMilli(bms)
		}
		return x
	}
	if first(rs[1]) == nil {
		out.emptied, out.all = true, merge(rs[2], all)
		puts = append(puts, clientv3.OpPut(r.marker, strconv.FormatInt(now.Unix(), 10)))
	}
	if e != nil {
		if e.Capped() && first(rs[3]) == nil {
			// A new entry of a capped kind: the tenant's live ones are counted
			// (expired ones wait for Mark's prune, and count until then).
			if n := rs[4].GetResponseRange().Count + rs[5].GetResponseRange().Count; n >= int64(r.cfg.Limits.MaxPerTenant) {
				if live, err := r.liveCapped(ctx, e.Tenant, now); err != nil {
					return out, err
				} else if live >= r.cfg.Limits.MaxPerTenant {
					return writeResult{}, fmt.Errorf("etcd: tenant %q holds %d live entries: %w", e.Tenant, r.cfg.Limits.MaxPerTenant, revoke.ErrTenantLimit)
				}
			}
		}
		out.stored, out.written = merge(rs[3], *e), true
	}
	if len(puts) == 0 {
		return out, nil
	}
	puts = append(puts, clientv3.OpPut(r.version, strconv.FormatInt(version+1, 10)))
	resp, err := r.cli.Txn(ctx).If(cmp).Then(puts...).Commit()
	if err != nil {
		return writeResult{}, fmt.Errorf("etcd: revocation not recorded: %w: %w", revoke.ErrUnavailable, err)
	}
	if !resp.Succeeded {
		return writeResult{}, errRace
	}
	if out.emptied {
		r.log.Error("the revocation store in etcd was empty (the first start of a deployment, or its data lost): every token issued at or before the detection is revoked, so every open widget session must be reopened",
			slog.Time("revokedBefore", out.all.Before))
	}
	return out, nil
}

// liveCapped counts tenant's session and user entries that have not
// expired.
func (r *Revocations) liveCapped(ctx context.Context, tenant string, now time.Time) (int, error) {
	n := 0
	for _, kind := range []revoke.Kind{revoke.KindSession, revoke.KindUser} {
		resp, err := r.cli.Get(ctx, r.tenantPrefix(tenant)+kind.String()+"/", clientv3.WithPrefix())
		if err != nil {
			return 0, fmt.Errorf("etcd: revocation not recorded: %w: %w", revoke.ErrUnavailable, err)
		}
		for _, kv := range resp.Kvs {
			if _, expires, err := parseValue(kv.Value); err == nil && expires >= now.Unix() {
				n++
			}
		}
	}
	return n, nil
}

// first is the first key-value of a range response, or nil.
func first(op *etcdserverpb.ResponseOp) *mvccpb.KeyValue {
	rr := op.GetResponseRange()
	if rr == nil || len(rr.Kvs) == 0 {
		return nil
	}
	return rr.Kvs[0]
}
