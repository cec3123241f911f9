package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

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
// expires, refused}, the values being the merged ones now stored. Every
// before is in Unix milliseconds (bms; see the package comment for the
// stored form, and a value without bms).
//
//	KEYS: entries, expiry, version, tenant index of the entry
//	ARGV: channel, now, prune-before, all field, all before, all expires,
//	      marker value, field, before, expires, max expires,
//	      max per tenant, capped
var writeScript = goredis.NewScript(`
local maxexp = tonumber(ARGV[11])
local function bms(c)
  if c.bms then return c.bms end
  if c.before == 0 then return 0 end
  return c.before * 1000 + 999
end
local function store(field, before, expires)
  redis.call('HSET', KEYS[1], field, string.format('{"before":%d,"bms":%d,"expires":%d}', math.floor(before / 1000), before, expires))
  redis.call('ZADD', KEYS[2], expires, field)
end
local function merge(field, before, expires)
  local cur = redis.call('HGET', KEYS[1], field)
  if cur then
    local c = cjson.decode(cur)
    local cb = bms(c)
    if cb > before then before = cb end
    if c.expires > expires then expires = c.expires end
  end
  if expires > maxexp then expires = maxexp end
  store(field, before, expires)
  local v = redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[1], string.format('{"v":%d,"field":%s,"before":%d,"bms":%d,"expires":%d}',
    v, cjson.encode(field), math.floor(before / 1000), before, expires))
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
    store(field, bms(cjson.decode(cur)), maxexp)
  else
    redis.call('ZREM', KEYS[2], field)
  end
end
return out
`)

// Revocations is the revocation store on Redis and, on every replica that
// validates tokens, the in-memory mirror of it: a thin adapter (the write
// script, the reads and repairs of revoke.Source) around a revoke.Mirror,
// fed by one subscription to the events channel.
//
// Start subscribes, loads the whole set and keeps the mirror current (see
// revoke.Mirror): each published entry is applied as it arrives, so a
// revocation reaches every replica in milliseconds; every re-established
// subscription is followed by a full re-sync.
//
// Revocations is safe for concurrent use.
type Revocations struct {
	client goredis.UniversalClient
	cfg    Config
	keys   Layout
	log    *slog.Logger
	mirror *revoke.Mirror

	runMu   sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sub     *Subscription
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
		client: client,
		cfg:    cfg,
		keys:   LayoutOf(cfg.Namespace),
		log:    cfg.Logger.With(slog.String("component", "revocations")),
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
	quiet := max(2*r.cfg.PollInterval, time.Second)
	sub, err := Subscribe(ctx, r.client, SubscriptionConfig{
		Channel: r.keys.Channel, Quiet: quiet, Logger: r.log, OnMessage: r.onMessage,
		Broken: func() { r.mirror.FeedDown(true) },
		Resubscribed: func() {
			r.mirror.FeedDown(false)
			r.mirror.RequestResync("gap")
			if f := r.cfg.Observer.Resubscribe; f != nil {
				f("revocations")
			}
		},
		Unavailable: revoke.ErrUnavailable,
	})
	if err != nil {
		return err
	}
	if err := r.mirror.Sync(ctx); err != nil {
		sub.Close()
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	r.started, r.cancel, r.sub = true, cancel, sub
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.mirror.Run(runCtx) }()
	// The mirror is kept fresh from here on, while Start waits.
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
		r.sub.Close()
		r.wg.Wait()
		r.cancel = nil
	}
	r.mirror.Close()
	return nil
}

// Revoke writes e to Redis and returns once it is acknowledged (applied by
// the master and, with Replication, confirmed by the replicas); the mirror
// then holds it too. Any failure returns an error wrapping
// revoke.ErrUnavailable (the entry may or may not have been written;
// writing it again is harmless), or revoke.ErrTenantLimit.
func (r *Revocations) Revoke(ctx context.Context, e revoke.Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	begin := time.Now()
	res, err := r.write(ctx, &e, true)
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
// mirror. Its error wraps revoke.ErrStale when the mirror cannot vouch for
// its freshness; it never does I/O and never allocates.
func (r *Revocations) IsRevoked(c *token.Claims) (bool, error) { return r.mirror.IsRevoked(c) }

// Fresh returns nil when the mirror is current within the staleness
// budget, and the error IsRevoked would return otherwise: the readiness
// check of a validator. (IsRevoked itself answers true for a token it
// knows revoked even when stale, so a probe with made-up claims cannot
// stand in for Fresh.)
func (r *Revocations) Fresh() error { return r.mirror.Fresh() }

// Age returns how long ago the mirror was last confirmed current.
func (r *Revocations) Age() time.Duration { return r.mirror.Age() }

// Subscribe calls fn with each entry that revokes more than the mirror held
// before, until cancel is called. See revoke.Listeners.
func (r *Revocations) Subscribe(fn func(revoke.Entry)) (cancel func()) {
	return r.mirror.Subscribe(fn)
}

// Len returns the number of entries in the mirror.
func (r *Revocations) Len() int { return r.mirror.Len() }

// Entries returns the mirror's entries, ordered by kind, tenant, subject.
func (r *Revocations) Entries() []revoke.Entry { return r.mirror.Entries() }

// onMessage applies one published entry.
func (r *Revocations) onMessage(payload string) {
	var m struct {
		V     int64  `json:"v"`
		Field string `json:"field"`
		storedTimes
	}
	err := json.Unmarshal([]byte(payload), &m)
	var e revoke.Entry
	if err == nil {
		e, err = parseEntry(m.Field, m.beforeMs(), m.Expires)
	}
	if err != nil {
		r.log.Error("malformed revocation event; re-syncing", slog.Any("error", err))
		r.mirror.RequestResync("gap")
		return
	}
	if r.mirror.Apply(e) && e.Kind == revoke.KindAll {
		r.log.Warn("every token issued at or before a time is revoked (Redis was found empty)", slog.Time("revokedBefore", e.Before))
	}
	r.mirror.Noted(m.V)
}

// writeResult is what the write script stored.
type writeResult struct {
	emptied bool         // the marker was missing: all was written first
	all     revoke.Entry // the all entry, as stored
	written bool         // stored holds the entry written
	stored  revoke.Entry
}

// write runs the write script for e, or only makes sure of the marker when
// e is nil, and returns what Redis stored. Only a write that is
// acknowledged to a caller (ack) waits for the replicas: the marker,
// pruning and repairs are made again by whoever finds them missing.
func (r *Revocations) write(ctx context.Context, e *revoke.Entry, ack bool) (writeResult, error) {
	var out writeResult
	now := r.cfg.Now()
	all := revoke.AllEntry(now, r.cfg.Leeway)
	field, before, expires := "", int64(0), int64(0)
	tenant, capped := "", "0"
	if e != nil {
		field, expires = Field(*e), e.Expires.Unix()
		if e.Kind != revoke.KindSession {
			before = e.Before.UnixMilli()
		}
		tenant = e.Tenant
		if e.Capped() {
			capped = "1"
		}
	}
	maxExpires := all.Expires.Unix() // now + MaxTTL + leeway, as every bound
	keys := r.keys.keys(tenant)
	args := []any{r.keys.Channel, now.Unix(), now.Add(-PruneGrace).Unix(),
		Field(all), all.Before.UnixMilli(), all.Expires.Unix(), strconv.FormatInt(now.Unix(), 10),
		field, before, expires, maxExpires, r.cfg.Limits.MaxPerTenant, capped}
	var cmd *goredis.Cmd
	repl := r.cfg.Replication
	if !ack {
		repl.MinReplicas = 0
	}
	werr := repl.Exec(ctx, r.client, r.keys.Entries, "revocation", func(p goredis.Pipeliner, eval bool) {
		cmd = QueueScript(ctx, p, writeScript, eval, keys, args...)
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
		return out, fmt.Errorf("redis: revocation not recorded: %w: %w", revoke.ErrUnavailable, err)
	}
	if res[0] == 1 {
		r.log.Error("the revocation store in Redis was empty (first start of a deployment, a restart without persistence, a flush, the entries evicted or deleted, or a failover to an empty replica): every token issued at or before the detection is revoked, so every open widget session must be reopened",
			slog.Time("revokedBefore", all.Before), slog.String("entries", r.keys.Entries))
		all.Before, all.Expires = time.UnixMilli(res[2]), time.Unix(res[3], 0)
		out.emptied, out.all = true, all
	}
	if res[7] == 1 {
		return out, fmt.Errorf("redis: tenant %q holds %d live entries: %w", e.Tenant, r.cfg.Limits.MaxPerTenant, revoke.ErrTenantLimit)
	}
	if e != nil {
		stored := *e
		stored.Before, stored.Expires = time.UnixMilli(res[5]), time.Unix(res[6], 0)
		if e.Kind == revoke.KindSession {
			stored.Before = time.Time{}
		}
		out.written, out.stored = true, stored
	}
	if werr != nil {
		// Applied by the master (and so, through pub/sub, by every mirror),
		// but not confirmed by enough replicas: not durable through a
		// failover, so not acknowledged.
		return out, fmt.Errorf("redis: revocation written but not acknowledged: %w: %w", revoke.ErrUnavailable, werr)
	}
	return out, nil
}
