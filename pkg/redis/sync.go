package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/pkg/revoke"
)

type snapshot struct {
	set     revoke.Set
	version int64
	marker  bool
	expired int // entries past their expiry and the grace, still in Redis
}

// load reads the entries (the marker among them) and the version in one
// transaction. It first counts the entries: more than Limits.MaxEntries
// (a hostile or corrupted Redis) are not read at all, and the error wraps
// revoke.ErrTooMany. Entries are bounded as the write path bounds them, so
// none lives in the mirror past now + MaxTTL + leeway.
func (r *Revocations) load(ctx context.Context) (*snapshot, error) {
	max := r.cfg.Limits.MaxEntries
	n, err := r.client.HLen(ctx, r.keys.Entries).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	if n > int64(max)+1 { // the marker is a field too
		r.overflow(int(n - 1))
		return nil, fmt.Errorf("redis: %d revocation entries, more than %d: %w", n-1, max, revoke.ErrTooMany)
	}
	var entries *goredis.MapStringStringCmd
	var version *goredis.StringCmd
	_, err = r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		entries = p.HGetAll(ctx, r.keys.Entries)
		version = p.Get(ctx, r.keys.Version)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	if err := entries.Err(); err != nil {
		return nil, fmt.Errorf("redis: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	fields := entries.Val()
	_, marker := fields[MarkerField]
	s := &snapshot{marker: marker}
	if held := len(fields); marker && held-1 > max || !marker && held > max {
		r.overflow(held)
		return nil, fmt.Errorf("redis: %d revocation entries, more than %d: %w", held, max, revoke.ErrTooMany)
	}
	s.version, _ = version.Int64()
	now := r.cfg.Now()
	cutoff := now.Add(-PruneGrace).Unix()
	for field, value := range fields {
		if field == MarkerField {
			continue
		}
		before, expires, err := parseValue(value)
		var e revoke.Entry
		if err == nil {
			e, err = parseEntry(field, before, expires)
		}
		if err != nil {
			r.log.Error("skipping a malformed revocation entry", zap.String("field", field), zap.Error(err))
			continue
		}
		if e.Expires.Unix() < cutoff {
			s.expired++
		}
		if e, ok := e.Bound(now, r.cfg.Leeway); ok {
			s.set.Add(e)
		}
	}
	r.overflowed.Store(false)
	return s, nil
}

// resync merges the whole set from Redis into the mirror, writing the all
// entry first if the marker is missing, and writes back what Redis lost.
// lost means the version went backwards or the marker vanished: the version
// bookkeeping restarts from Redis's.
func (r *Revocations) resync(ctx context.Context, lost bool, reason string) error {
	if f := r.cfg.Observer.Resync; f != nil {
		f(reason)
	}
	sent := time.Now()
	snap, err := r.load(ctx)
	if err != nil {
		return err
	}
	if !snap.marker {
		if err := r.write(ctx, nil, false); err != nil {
			return err
		}
		lost = true
		if snap, err = r.load(ctx); err != nil {
			return err
		}
	}
	told, suspects := r.merge(snap)
	for _, e := range told {
		r.listeners.Notify(e)
	}

	r.vmu.Lock()
	if lost || snap.version > r.applied {
		if lost {
			clear(r.pending)
		}
		r.applied = snap.version
	}
	r.advance()
	r.polled = snap.version
	r.vmu.Unlock()

	if err := r.repair(ctx, suspects); err != nil {
		r.requestResync()
		r.failed("restore revocations Redis lost", err)
	}
	if snap.expired > 0 { // writes prune a batch each; a quiet Redis needs help
		if err := r.write(ctx, nil, false); err != nil {
			r.failed("prune expired revocations", err)
		}
	}
	r.markFresh(sent)
	return nil
}

// merge merges snap into the mirror. It returns the entries that changed
// the mirror, and the suspects: entries of the mirror snap does not cover.
func (r *Revocations) merge(snap *snapshot) (told, suspects []revoke.Entry) {
	r.mu.Lock()
	if r.set.Len() == 0 { // the first sync: take the snapshot whole
		r.set, snap.set = snap.set, revoke.Set{}
		r.set.Prune(r.cfg.Now())
		told = slices.AppendSeq(make([]revoke.Entry, 0, r.set.Len()), r.set.All())
		r.mu.Unlock()
		return told, nil
	}
	r.mu.Unlock()

	// Compare under the read lock, which validation shares; take the write
	// lock only for what changes, usually nothing.
	var news []revoke.Entry
	r.mu.RLock()
	for e := range snap.set.All() {
		if !r.set.Contains(e) {
			news = append(news, e)
		}
	}
	r.mu.RUnlock()
	r.mu.Lock()
	for _, e := range news {
		if merged, changed := r.set.Add(e); changed {
			told = append(told, merged)
		}
	}
	r.set.Prune(r.cfg.Now())
	r.mu.Unlock()
	r.mu.RLock()
	for e := range r.set.All() {
		if !snap.set.Covers(e) {
			suspects = append(suspects, e)
		}
	}
	r.mu.RUnlock()
	return told, suspects
}

// repair writes back the suspects Redis does not hold. A suspect is an
// entry of the mirror missing from a snapshot; most are entries that
// arrived after the snapshot was taken, so they are read again first. An
// entry reached the mirror only after Redis had stored it, and leaves Redis
// only by expiring, so one still missing was lost.
func (r *Revocations) repair(ctx context.Context, suspects []revoke.Entry) error {
	if len(suspects) == 0 {
		return nil
	}
	fields := make([]string, len(suspects))
	for i, e := range suspects {
		fields[i] = Field(e)
	}
	vals, err := r.client.HMGet(ctx, r.keys.Entries, fields...).Result()
	if err != nil {
		return err
	}
	var stored revoke.Set
	for i, v := range vals {
		if s, ok := v.(string); ok {
			if before, expires, err := parseValue(s); err == nil {
				if e, err := parseEntry(fields[i], before, expires); err == nil {
					stored.Add(e)
				}
			}
		}
	}
	restored := 0
	for _, e := range suspects {
		if stored.Covers(e) {
			continue
		}
		if err := r.write(ctx, &e, false); err != nil {
			return err
		}
		restored++
	}
	if restored > 0 {
		r.log.Warn("restored revocations that Redis had lost", zap.Int("count", restored))
	}
	return nil
}

// waitOutAllSecond returns once the clock is past the second of an all
// entry that covers now, so that no token this replica mints after Start is
// born revoked. It waits at most a second, less if ctx ends.
func (r *Revocations) waitOutAllSecond(ctx context.Context) {
	r.mu.RLock()
	all, ok := revoke.Entry{}, false
	for e := range r.set.All() {
		if e.Kind == revoke.KindAll {
			all, ok = e, true
		}
	}
	r.mu.RUnlock()
	if !ok {
		return
	}
	if wait := all.Before.Add(time.Second).Sub(r.cfg.Now()); wait > 0 {
		sleep(ctx, min(wait, time.Second))
	}
}

// parseValue reads a stored value, {"before":S,"expires":S}. The script
// writes exactly that form, which is read without reflection (a re-sync
// reads every entry); anything else goes through encoding/json.
func parseValue(v string) (before, expires int64, err error) {
	if rest, ok := strings.CutPrefix(v, `{"before":`); ok {
		if b, rest, ok := strings.Cut(rest, `,"expires":`); ok {
			if e, ok := strings.CutSuffix(rest, "}"); ok {
				before, err1 := strconv.ParseInt(b, 10, 64)
				expires, err2 := strconv.ParseInt(e, 10, 64)
				if err1 == nil && err2 == nil {
					return before, expires, nil
				}
			}
		}
	}
	var t struct{ Before, Expires int64 }
	if err := json.Unmarshal([]byte(v), &t); err != nil {
		return 0, 0, fmt.Errorf("redis: malformed revocation value %q: %w", v, err)
	}
	return t.Before, t.Expires, nil
}
