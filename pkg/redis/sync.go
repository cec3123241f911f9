package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/pkg/revoke"
)

// source is the Redis side of the mirror: revoke.Source over the layout.
type source struct{ r *Revocations }

var _ revoke.Source = source{}

// Poll reads the version and the marker in one round trip.
func (s source) Poll(ctx context.Context) (int64, bool, error) {
	r := s.r
	var version *goredis.StringCmd
	var marker *goredis.BoolCmd
	_, err := r.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		version = p.Get(ctx, r.keys.Version)
		marker = p.HExists(ctx, r.keys.Entries, MarkerField)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return 0, false, err
	}
	v, err := version.Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return 0, false, err
	}
	if err := marker.Err(); err != nil {
		return 0, false, err
	}
	return v, marker.Val(), nil
}

// Load reads the entries (the marker among them) and the version in one
// transaction. It first counts the entries: more than Limits.MaxEntries (a
// hostile or corrupted Redis) are not read at all, and the error wraps
// revoke.ErrTooMany.
func (s source) Load(ctx context.Context) (revoke.Snapshot, error) {
	r := s.r
	max := r.cfg.Limits.MaxEntries
	n, err := r.client.HLen(ctx, r.keys.Entries).Result()
	if err != nil {
		return revoke.Snapshot{}, fmt.Errorf("redis: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	if n > int64(max)+1 { // the marker is a field too
		return revoke.Snapshot{}, fmt.Errorf("redis: %d revocation entries, more than %d: %w", n-1, max, revoke.ErrTooMany)
	}
	var entries *goredis.MapStringStringCmd
	var version *goredis.StringCmd
	_, err = r.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		entries = p.HGetAll(ctx, r.keys.Entries)
		version = p.Get(ctx, r.keys.Version)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return revoke.Snapshot{}, fmt.Errorf("redis: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	if err := entries.Err(); err != nil {
		return revoke.Snapshot{}, fmt.Errorf("redis: load revocations: %w: %w", revoke.ErrUnavailable, err)
	}
	fields := entries.Val()
	_, marker := fields[MarkerField]
	snap := revoke.Snapshot{Marker: marker}
	snap.Version, _ = version.Int64()
	cutoff := r.cfg.Now().Add(-PruneGrace).Unix()
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
			r.log.Error("skipping a malformed revocation entry", slog.String("field", field), slog.Any("error", err))
			continue
		}
		if e.Expires.Unix() < cutoff {
			snap.Expired++
		}
		snap.Set.Add(e)
	}
	return snap, nil
}

// Mark runs the write script with no entry: it writes the all entry and
// the marker when the marker is missing, and prunes.
func (s source) Mark(ctx context.Context) (revoke.Entry, bool, error) {
	res, err := s.r.write(ctx, nil, false)
	return res.all, res.emptied, err
}

// Repair writes back the suspects Redis does not hold. A suspect is an
// entry of the mirror missing from a snapshot; most are entries that
// arrived after the snapshot was taken, so they are read again first. An
// entry reached the mirror only after Redis had stored it, and leaves Redis
// only by expiring, so one still missing was lost.
func (s source) Repair(ctx context.Context, suspects []revoke.Entry) (int, error) {
	r := s.r
	fields := make([]string, len(suspects))
	for i, e := range suspects {
		fields[i] = Field(e)
	}
	vals, err := r.client.HMGet(ctx, r.keys.Entries, fields...).Result()
	if err != nil {
		return 0, err
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
		if _, err := r.write(ctx, &e, false); err != nil {
			return restored, err
		}
		restored++
	}
	return restored, nil
}

// storedTimes are the times of a stored value or a published message.
type storedTimes struct {
	Before  int64  `json:"before"` // Unix seconds
	BMS     *int64 `json:"bms"`    // Unix milliseconds; nil: written before bms existed
	Expires int64  `json:"expires"`
}

// beforeMs returns the revocation time in milliseconds: bms, or, for a
// value written by a replica that predates it, the last millisecond of
// before's second (such an entry revokes every token of its second).
func (t storedTimes) beforeMs() int64 {
	switch {
	case t.BMS != nil:
		return *t.BMS
	case t.Before == 0:
		return 0 // a session entry
	}
	return t.Before*1000 + 999
}

// parseValue reads a stored value, {"before":S,"bms":MS,"expires":S}, and
// returns its revocation time in milliseconds (see storedTimes.beforeMs).
// The script writes exactly that form, which is read without reflection (a
// re-sync reads every entry); anything else goes through encoding/json.
func parseValue(v string) (beforeMs, expires int64, err error) {
	if rest, ok := strings.CutPrefix(v, `{"before":`); ok {
		if _, rest, ok := strings.Cut(rest, `,"bms":`); ok {
			if b, rest, ok := strings.Cut(rest, `,"expires":`); ok {
				if e, ok := strings.CutSuffix(rest, "}"); ok {
					beforeMs, err1 := strconv.ParseInt(b, 10, 64)
					expires, err2 := strconv.ParseInt(e, 10, 64)
					if err1 == nil && err2 == nil {
						return beforeMs, expires, nil
					}
				}
			}
		}
	}
	var t storedTimes
	if err := json.Unmarshal([]byte(v), &t); err != nil {
		return 0, 0, fmt.Errorf("redis: malformed revocation value %q: %w", v, err)
	}
	return t.beforeMs(), t.Expires, nil
}
