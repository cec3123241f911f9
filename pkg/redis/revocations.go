package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// writeScript writes one entry (ARGV[8..10]; none when ARGV[8] is empty)
// after making sure the marker field exists in the entries hash: when it
// does not, Redis lost its data (the hash, or the whole database), and the
// script first writes the all entry of ARGV[4..6] and sets the marker to
// ARGV[7]. Every expiry it stores is clamped to ARGV[11], the end of the
// longest-lived token that could be minted now. A new session or user entry
// (ARGV[13] = "1") of a tenant whose index KEYS[4] holds ARGV[12] live
// entries already is refused, and nothing of it is written. Then it prunes
// entries that expired before ARGV[3], and clamps a batch of entries stored
// with a later expiry than ARGV[11] (written before the clamp existed). It
// returns {emptied, all version, all before, all expires, version, before,
// expires, refused}, the values being the merged ones now stored.
//
//	KEYS: entries, expiry, version, tenant index of the entry
//	ARGV: channel, now, prune-before, all field, all before, all expires,
//	      marker value, field, before, expires, max expires,
//	      max per tenant, capped
var writeScript = goredis.NewScript(`
local maxexp = tonumber(ARGV[11])
local function store(field, before, expires)
  redis.call('HSET', KEYS[1], field, string.format('{"before":%d,"expires":%d}', before, expires))
  redis.call('ZADD', KEYS[2], expires, field)
end
local function merge(field, before, expires)
  local cur = redis.call('HGET', KEYS[1], field)
  if cur then
    local c = cjson.decode(cur)
    if c.before > before then before = c.before end
    if c.expires > expires then expires = c.expires end
  end
  if expires > maxexp then expires = maxexp end
  store(field, before, expires)
  local v = redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[1], string.format('{"v":%d,"field":%s,"before":%d,"expires":%d}',
    v, cjson.encode(field), before, expires))
  return {v, before, expires}
end
local out = {0, 0, 0, 0, 0, 0, 0, 0}
if redis.call('HEXISTS', KEYS[1], '` + MarkerField + `') == 0 then
  local r = merge(ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
  redis.call('HSET', KEYS[1], '` + MarkerField + `', ARGV[7])
  out[1], out[2], out[3], out[4] = 1, r[1], r[2], r[3]
end
if ARGV[8] ~= '' then
  local capped = ARGV[13] == '1'
  if capped and redis.call('HEXISTS', KEYS[1], ARGV[8]) == 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[3])
    if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[12]) then
      out[8] = 1
      return out
    end
  end
  local r = merge(ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10]))
  out[5], out[6], out[7] = r[1], r[2], r[3]
  if capped then
    redis.call('ZADD', KEYS[4], r[3], ARGV[8])
    local keepto = r[3] + tonumber(ARGV[2]) - tonumber(ARGV[3])
    local ttl = redis.call('TTL', KEYS[4])
    if ttl < 0 or ttl < keepto - tonumber(ARGV[2]) then
      redis.call('EXPIREAT', KEYS[4], keepto)
    end
  end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[3], 'LIMIT', 0, 500)
if #old > 0 then
  redis.call('HDEL', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
local far = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[11], '+inf', 'LIMIT', 0, 500)
for _, field in ipairs(far) do
  local cur = redis.call('HGET', KEYS[1], field)
  if cur then
    store(field, cjson.decode(cur).before, maxexp)
  else
    redis.call('ZREM', KEYS[2], field)
  end
end
return out
`)

// Revocations is the revocation store on Redis and, on every replica that
// validates tokens, the in-memory mirror of it.
//
// Start loads the whole set, subscribes to the events channel and applies
// each published entry as it arrives, so a revocation reaches every replica
// in milliseconds. Every PollInterval one pipelined round trip reads the
// version and checks the marker: a version this mirror has not caught up
// with a poll later (a message lost), a version gone backwards (data lost),
// a missing marker, or a re-established subscription trigger a full re-sync;
// one happens every ResyncInterval anyway. A re-sync merges what Redis holds
// into the mirror, never replaces it: entries only go away by expiring, so an
// entry the mirror holds but Redis lacks was lost by Redis (a failover to a
// lagging replica, say), and the mirror writes it back.
//
// IsRevoked is a map lookup. When no poll or sync has succeeded within
// StalenessBudget it fails closed with revoke.ErrStale; a token the mirror
// knows to be revoked is reported revoked even then.
//
// Subscribers are told of entries that arrive by pub/sub or by this
// replica's own writes; entries that only a re-sync brings (published while
// the subscription was down) are applied to the mirror, and told too.
//
// Revocations is safe for concurrent use.
type Revocations struct {
	client goredis.UniversalClient
	cfg    Config
	keys   Layout
	log    *zap.Logger
	stale  error // the error IsRevoked returns when stale, built once

	mu  sync.RWMutex
	set revoke.Set

	listeners revoke.Listeners

	// Freshness: isStale flips to true when freshAt is older than the
	// budget, by a timer, so that IsRevoked reads no clock.
	isStale    atomic.Bool
	freshMu    sync.Mutex
	freshAt    time.Time
	staleTimer *time.Timer
	closed     bool

	// Versions: applied is the version up to which every entry is known;
	// pending holds versions received ahead of it; polled is the version
	// the previous poll read.
	vmu     sync.Mutex
	applied int64
	pending map[int64]struct{}
	polled  int64

	resyncReq  chan struct{}
	failing    atomic.Bool
	overflowed atomic.Bool // Redis holds more than Limits.MaxEntries

	runMu   sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	psMu    sync.Mutex
	ps      *goredis.PubSub
}

// NewRevocations returns the store over client, not yet started: it can
// write at once, but IsRevoked fails closed until Start has synced.
func NewRevocations(client goredis.UniversalClient, cfg Config) (*Revocations, error) {
	if client == nil {
		return nil, errors.New("redis: revocations need a client")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Revocations{
		client:    client,
		cfg:       cfg,
		keys:      LayoutOf(cfg.Namespace),
		log:       cfg.Logger.With(zap.String("component", "revocations")),
		stale:     fmt.Errorf("redis: revocation mirror not refreshed within %v: %w", cfg.StalenessBudget, revoke.ErrStale),
		pending:   make(map[int64]struct{}),
		resyncReq: make(chan struct{}, 1),
	}
	r.isStale.Store(true)
	r.staleTimer = time.AfterFunc(time.Hour, r.checkStale)
	r.staleTimer.Stop()
	return r, nil
}

// Start syncs the mirror and keeps it in sync in the background until ctx
// is done or Close is called. It returns an error, and starts nothing, when
// the first sync fails: a replica must not serve with an unknown set.
func (r *Revocations) Start(ctx context.Context) error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.started {
		return errors.New("redis: revocations already started")
	}
	// Subscribe before loading, so that nothing published in between is
	// missed.
	ps, err := r.subscribe(ctx)
	if err != nil {
		return err
	}
	if err := r.resync(ctx, false, "start"); err != nil {
		_ = ps.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	r.started, r.cancel, r.ps = true, cancel, ps
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.listen(runCtx) }()
	go func() { defer r.wg.Done(); r.pollLoop(runCtx) }()
	// The mirror is kept fresh from here on, while Start waits.
	r.waitOutAllSecond(ctx)
	return nil
}

// Close stops the background work; IsRevoked fails closed from then on. It
// does not close the client, which the caller owns.
func (r *Revocations) Close() error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.cancel != nil {
		r.cancel()
		r.psMu.Lock()
		_ = r.ps.Close() // unblocks the listener
		r.psMu.Unlock()
		r.wg.Wait()
		r.cancel = nil
	}
	r.freshMu.Lock()
	r.closed = true
	r.staleTimer.Stop()
	r.isStale.Store(true)
	r.freshMu.Unlock()
	return nil
}

// Revoke writes e to Redis and returns once Redis has acknowledged it; the
// mirror then holds it too. Any failure returns an error wrapping
// revoke.ErrUnavailable (the entry may or may not have been written; writing
// it again is harmless).
func (r *Revocations) Revoke(ctx context.Context, e revoke.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	begin := time.Now()
	err := r.write(ctx, &e, true)
	if f := r.cfg.Observer.RevocationWrite; f != nil {
		f(time.Since(begin), err)
	}
	return err
}

// Age returns how long ago the mirror was last confirmed current: the
// figure the staleness budget bounds, for a gauge.
func (r *Revocations) Age() time.Duration {
	r.freshMu.Lock()
	defer r.freshMu.Unlock()
	if r.freshAt.IsZero() {
		return 0
	}
	return time.Since(r.freshAt)
}

// IsRevoked reports whether a token with claims c is revoked, from the
// mirror. Its error wraps revoke.ErrStale when the mirror cannot vouch for
// its freshness; it never does I/O and never allocates.
func (r *Revocations) IsRevoked(c *token.Claims) (bool, error) {
	r.mu.RLock()
	revoked := r.set.Revoked(c)
	r.mu.RUnlock()
	if !revoked && (r.isStale.Load() || r.overflowed.Load()) {
		return false, r.stale
	}
	return revoked, nil
}

// Fresh returns nil when the mirror has synced within the staleness
// budget, and the error IsRevoked would return (wrapping revoke.ErrStale)
// otherwise: the readiness check of a validator. (IsRevoked itself answers
// true for a token it knows revoked even when stale, so a probe with
// made-up claims cannot stand in for Fresh.)
func (r *Revocations) Fresh() error {
	if r.isStale.Load() || r.overflowed.Load() {
		return r.stale
	}
	return nil
}

// overflow records that Redis holds more than Limits.MaxEntries entries
// (n, or more): the mirror cannot hold them all, so it cannot vouch for
// any token it does not know revoked, and validation fails closed until a
// re-sync finds the set within bounds.
func (r *Revocations) overflow(n int) {
	if !r.overflowed.Swap(true) {
		r.log.Error("Redis holds more revocation entries than WIDGET_REVOCATION_MAX_ENTRIES: refusing to load them, validation fails closed",
			zap.Int("entries", n), zap.Int("max", r.cfg.Limits.MaxEntries))
	}
	r.requestResync()
}

// Subscribe calls fn with each entry that revokes more than the mirror held
// before, until cancel is called. See revoke.Listeners.
func (r *Revocations) Subscribe(fn func(revoke.Entry)) (cancel func()) {
	return r.listeners.Subscribe(fn)
}

// Len returns the number of entries in the mirror.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.set.Len()
}

// Entries returns the mirror's entries, ordered by kind, tenant, subject.
func (r *Revocations) Entries() []revoke.Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.set.Entries()
}

// write runs the write script for e, or only makes sure of the marker when
// e is nil, and applies what Redis stored to the mirror. Only a write that
// is acknowledged to a caller (ack) waits for the replicas: the marker,
// pruning and repairs are made again by whoever finds them missing.
func (r *Revocations) write(ctx context.Context, e *revoke.Entry, ack bool) error {
	now := r.cfg.Now()
	all := revoke.AllEntry(now, r.cfg.Leeway)
	field, before, expires := "", int64(0), int64(0)
	if e != nil {
		field, expires = Field(*e), e.Expires.Unix()
		if e.Kind != revoke.KindSession {
			before = e.Before.Unix()
		}
	}
	tenant, capped := "", "0"
	if e != nil {
		tenant = e.Tenant
		if e.Capped() {
			capped = "1"
		}
	}
	maxExpires := all.Expires.Unix() // now + MaxTTL + leeway, as every bound
	keys := r.keys.keys(tenant)
	args := []any{r.keys.Channel, now.Unix(), now.Add(-PruneGrace).Unix(),
		Field(all), all.Before.Unix(), all.Expires.Unix(), strconv.FormatInt(now.Unix(), 10),
		field, before, expires, maxExpires, r.cfg.Limits.MaxPerTenant, capped}
	var cmd *goredis.Cmd
	repl := r.cfg.Replication
	if !ack {
		repl.MinReplicas = 0
	}
	werr := repl.exec(ctx, r.client, r.keys.Entries, "revocation", func(p goredis.Pipeliner, eval bool) {
		cmd = queueScript(ctx, p, writeScript, eval, keys, args...)
	})
	var res []int64
	err := werr
	if cmd != nil && cmd.Err() == nil {
		// The master applied the script, whether or not the replicas
		// confirmed it in time.
		res, err = cmd.Int64Slice()
		if err == nil && len(res) != 8 {
			err = fmt.Errorf("unexpected reply %v", res)
		}
	}
	if err != nil {
		return fmt.Errorf("redis: revocation not recorded: %w: %w", revoke.ErrUnavailable, err)
	}
	if res[0] == 1 {
		r.log.Error("the revocation store in Redis was empty (first start of a deployment, a restart without persistence, a flush, or a failover to an empty replica): every token issued at or before the detection is revoked, so every open widget session must be reopened",
			zap.Time("revokedBefore", all.Before), zap.String("entries", r.keys.Entries))
		all.Before, all.Expires = time.Unix(res[2], 0), time.Unix(res[3], 0)
		r.apply(all)
		r.requestResync()
	}
	if res[7] == 1 {
		return fmt.Errorf("redis: tenant %q holds %d live entries: %w", e.Tenant, r.cfg.Limits.MaxPerTenant, revoke.ErrTenantLimit)
	}
	if e != nil {
		stored := *e
		stored.Before, stored.Expires = time.Unix(res[5], 0), time.Unix(res[6], 0)
		if e.Kind == revoke.KindSession {
			stored.Before = time.Time{}
		}
		r.apply(stored)
	}
	if werr != nil {
		// Applied by the master (and so by this mirror and, through pub/sub,
		// the others), but not confirmed by enough replicas: not durable
		// through a failover, so not acknowledged.
		return fmt.Errorf("redis: revocation written but not acknowledged: %w: %w", revoke.ErrUnavailable, werr)
	}
	return nil
}

// apply merges e, bounded at now, into the mirror and tells the listeners
// when it changed anything. A new entry past Limits.MaxEntries is not
// applied: the mirror fails closed until a re-sync finds the set within
// bounds again.
func (r *Revocations) apply(e revoke.Entry) (changed bool) {
	now := r.cfg.Now()
	e, ok := e.Bound(now, r.cfg.Leeway)
	if !ok {
		return false // a session that cannot have been minted
	}
	r.mu.Lock()
	r.set.Prune(now)
	if !r.set.Has(e) && r.set.Len() >= r.cfg.Limits.MaxEntries {
		r.mu.Unlock()
		r.overflow(r.cfg.Limits.MaxEntries + 1)
		return false
	}
	merged, changed := r.set.Add(e)
	r.mu.Unlock()
	if changed {
		r.listeners.Notify(merged)
	}
	return changed
}

func (r *Revocations) requestResync() {
	select {
	case r.resyncReq <- struct{}{}:
	default:
	}
}
