// Package redis adapts Redis to the service. It is the only package of the
// module that imports go-redis. It holds the state replicas share:
//
//   - the revocation store (revocations.go: the write script; sync.go: the
//     reads and repairs of revoke.Source; layout below), which feeds the
//     backend-agnostic mirror each replica keeps in memory (revoke.Mirror);
//   - the per-session event log, a Redis Stream per session with one
//     pub/sub notification channel (events.go);
//   - the incident-context cache (incidents.go), single-use stream tickets
//     (tickets.go) and the per-session message rate limiter (ratelimit.go),
//     each documented with its keys.
//
// # Revocation layout
//
// Every key of a revocation namespace (default "wrev") shares one hash tag, so that the
// multi-key script below runs in Redis Cluster too:
//
//	{wrev}:entries   HASH   field kind|tenant|subject → {"before":S,"bms":MS,"expires":S},
//	                        and the field "marker" (MarkerField): set once; its
//	                        absence means Redis lost the entries
//	{wrev}:expiry    ZSET   member = field, score = expires (Unix seconds)
//	{wrev}:tenant:T  ZSET   tenant T's session and user fields, score = expires:
//	                        what Limits.MaxPerTenant counts; expires with them
//	{wrev}:version   STRING incremented once per entry written
//	{wrev}:events    channel, one message per entry written:
//	                 {"v":version,"field":...,"before":S,"bms":MS,"expires":S}
//
// In a field, tenant and subject are path-escaped (url.PathEscape), so "|"
// never occurs inside them: tenant "a|b" user "c" and tenant "a" user "b|c"
// are different fields. bms is the revocation time in Unix milliseconds,
// which tokens' iat_ms are compared with; before is its second, for
// replicas that predate bms (they revoke the whole second, as they always
// did). A value or message without bms, written by such a replica, means
// every token of its before second: bms = before*1000 + 999. expires is in
// whole Unix seconds, the resolution of the NumericDate claims and KSUIDs.
// Session entries have before and bms 0. The keys have no TTL; the write script prunes entries whose
// expiry is more than PruneGrace in the past.
//
// # Writes
//
// A revocation is one Lua script: if the marker is missing it first writes an
// all entry (see below); then it refuses a new session or user entry of a
// tenant holding Limits.MaxPerTenant live ones, merges the entry with the
// stored one (later before, later expiry), clamps its expiry to now + MaxTTL
// + leeway, indexes it, prunes expired entries, bumps the version and
// publishes. Revoke returns once Redis has replied, and an error
// wrapping revoke.ErrUnavailable whenever it has not: the caller answers 503,
// never 204. "Durable" means acknowledged by Redis; whether Redis persists
// it is Redis's configuration, and the marker covers the case where it does
// not.
//
// # The mirror
//
// See revoke.Mirror, and Revocations for how Redis feeds it: one
// subscription (subscription.go, shared with the event log) and the
// source's polls and loads.
//
// # An emptied Redis
//
// A restart without persistence, a FLUSHALL, a failover to an empty replica,
// or the entries hash alone evicted or deleted would bring every revoked
// token back to life. The marker, a field of that very hash, tells: whoever
// finds it missing (a replica's poll or sync, or a write) atomically writes
// an all entry revoking every token issued at or before that moment, sets the
// marker, and logs an error. Every live session is thereby revoked and users
// reopen the widget: safe rather than sorry. A brand-new deployment's first
// start does the same, which costs nothing (there are no tokens yet); a
// replica that writes or finds such an entry at start waits for the current
// millisecond to end before Start returns, so no token it mints is born revoked.
package redis

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/revoke"
)

// NewClient returns a client for rawURL:
//
//	redis://[user:password@]host:port[/db][?options]        one server
//	rediss://...                                            the same over TLS
//	redis://[user:pass@]sentinel:26379?master_name=NAME[&addr=sentinel2:26379...]
//	                                                        Sentinel (failover)
//	redis+cluster://[user:pass@]node:6379[?addr=node2:6379...]
//	rediss+cluster://...                                    Redis Cluster
//
// Options are go-redis's URL options (dial_timeout, read_timeout, pool_size,
// ...). The URL may hold a password, so errors never repeat it.
func NewClient(rawURL string) (goredis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("redis: invalid URL: %w", err)
	}
	switch u.Scheme {
	case "redis", "rediss":
		t := tuning{u.Query()}
		if u.Query().Has("master_name") {
			opt, err := goredis.ParseFailoverURL(rawURL)
			if err != nil {
				return nil, fmt.Errorf("redis: invalid Sentinel URL: %w", err)
			}
			t.apply(timings{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff, &opt.MaxRetryBackoff, &opt.DialerRetryTimeout, &opt.MaxRetries, &opt.DialerRetries})
			return goredis.NewFailoverClient(opt), nil
		}
		opt, err := goredis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redis: invalid URL: %w", err)
		}
		t.apply(timings{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff, &opt.MaxRetryBackoff, &opt.DialerRetryTimeout, &opt.MaxRetries, &opt.DialerRetries})
		return goredis.NewClient(opt), nil
	case "redis+cluster", "rediss+cluster":
		u.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		opt, err := goredis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("redis: invalid Cluster URL: %w", err)
		}
		tuning{u.Query()}.apply(timings{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff, &opt.MaxRetryBackoff, &opt.DialerRetryTimeout, &opt.MaxRetries, &opt.DialerRetries})
		opt.ClusterStateReloadInterval = clusterReload
		c := goredis.NewClusterClient(opt)
		c.AddHook(reloadOnFailure{c})
		return c, nil
	default:
		return nil, fmt.Errorf("redis: invalid URL scheme %q (want redis, rediss, redis+cluster or rediss+cluster)", u.Scheme)
	}
}

// DefaultNamespace is the namespace of the keys when Config names none.
const DefaultNamespace = "wrev"

// PruneGrace is how long past its expiry an entry stays in Redis. Replicas
// prune with their own clocks; the grace keeps a replica whose clock runs
// ahead from dropping an entry another replica still needs.
const PruneGrace = 5 * time.Minute

// MarkerField is the field of the entries hash whose absence means that
// Redis lost the revocation data. It lives inside the hash, not in a key of
// its own, so that whatever takes the entries (an eviction, a DEL, a
// flush, a failover to an empty replica) takes the marker with them.
const MarkerField = "marker"

// Layout names the keys and the channel of a namespace.
type Layout struct {
	Entries, Expiry, Version, Channel string
	tag                               string
}

// LayoutOf returns the layout of namespace.
func LayoutOf(namespace string) Layout {
	tag := "{" + namespace + "}:"
	return Layout{
		Entries: tag + "entries",
		Expiry:  tag + "expiry",
		Version: tag + "version",
		Channel: tag + "events",
		tag:     tag,
	}
}

// TenantIndex returns the key of tenant's index: a sorted set of its
// session and user entries' fields, scored by expiry, which the write
// script counts against Limits.MaxPerTenant.
func (l Layout) TenantIndex(tenant string) string { return l.tag + "tenant:" + url.PathEscape(tenant) }

// keys returns the script's KEYS, in its order, for an entry of tenant.
func (l Layout) keys(tenant string) []string {
	return []string{l.Entries, l.Expiry, l.Version, l.TenantIndex(tenant)}
}

// Field returns the hash field of e: kind|tenant|subject, escaped.
func Field(e revoke.Entry) string {
	return e.Kind.String() + "|" + url.PathEscape(e.Tenant) + "|" + url.PathEscape(e.Subject)
}

// parseEntry rebuilds an entry from its field and stored times, before in
// Unix milliseconds.
func parseEntry(field string, beforeMs, expires int64) (revoke.Entry, error) {
	parts := strings.Split(field, "|")
	if len(parts) != 3 {
		return revoke.Entry{}, fmt.Errorf("redis: malformed revocation field %q", field)
	}
	kind, err := revoke.ParseKind(parts[0])
	if err != nil {
		return revoke.Entry{}, fmt.Errorf("redis: revocation field %q: %w", field, err)
	}
	tenant, err1 := url.PathUnescape(parts[1])
	subject, err2 := url.PathUnescape(parts[2])
	if err := errors.Join(err1, err2); err != nil {
		return revoke.Entry{}, fmt.Errorf("redis: revocation field %q: %w", field, err)
	}
	e := revoke.Entry{Kind: kind, Tenant: tenant, Subject: subject, Expires: time.Unix(expires, 0).UTC()}
	if kind != revoke.KindSession {
		e.Before = time.UnixMilli(beforeMs).UTC()
	}
	if err := e.Validate(); err != nil {
		return revoke.Entry{}, fmt.Errorf("redis: revocation field %q: %w", field, err)
	}
	return e, nil
}

// Config tunes Revocations. The zero value takes every default.
type Config struct {
	// Namespace prefixes every key (inside the hash tag). Default
	// DefaultNamespace. Environments that share a Redis (live and test) use
	// different namespaces.
	Namespace string
	// PollInterval is how often the mirror checks, in one round trip, that
	// it has applied every revocation and that the marker is there.
	// Default 1s.
	PollInterval time.Duration
	// ResyncInterval is how often the mirror reloads the whole set anyway.
	// Default 60s.
	ResyncInterval time.Duration
	// StalenessBudget is how long the mirror answers after its last
	// successful poll or sync; past it IsRevoked fails closed. It must exceed
	// PollInterval. Default 5s.
	StalenessBudget time.Duration
	// Leeway is the validators' clock-skew leeway, added to the expiry of
	// the all entry written when Redis is found empty. Default 30s.
	Leeway time.Duration
	// Logger receives the mirror's errors and warnings; an emptied Redis is
	// logged at error level. Default: no logging.
	Logger *slog.Logger
	// Now is the clock for entry times. Default time.Now. Staleness is
	// measured on the monotonic clock whatever Now is.
	Now func() time.Time
	// Limits bound the entries of a tenant (checked by the write script)
	// and of the mirror. Zero fields take revoke's defaults.
	Limits revoke.Limits
	// Replication says when a write is acknowledged (WAIT). The zero value
	// acknowledges what the master applied.
	Replication Replication
	// Observer is told what the mirror does, for metrics.
	Observer Observer
}

// Observer receives what the Redis adapters measure, for metrics. Every
// field may be nil. The functions are called synchronously and must return
// quickly.
type Observer struct {
	// RevocationWrite is told how long an acknowledged revocation write
	// took, and whether it failed.
	RevocationWrite func(d time.Duration, err error)
	// Resync is told of every full re-sync of the mirror: "start",
	// "periodic", "gap" (a missed or out-of-order message, a re-subscribe)
	// or "loss" (the marker gone, the version gone backwards).
	Resync func(reason string)
	// Resubscribe is told each time a subscription ("revocations",
	// "events") is re-established after it broke.
	Resubscribe func(subscription string)
}

// withDefaults sets what the store itself uses; the mirror's intervals
// are defaulted and checked by revoke.NewMirror.
func (c Config) withDefaults() (Config, error) {
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Limits = c.Limits.WithDefaults()
	switch {
	case c.Leeway < 0:
		return c, errors.New("redis: negative leeway")
	case strings.ContainsAny(c.Namespace, "{}"):
		return c, fmt.Errorf("redis: namespace %q must not contain braces", c.Namespace)
	}
	return c, nil
}
