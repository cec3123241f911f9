package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/redis"
)

// EventKey returns the key of session sid's event log in namespace:
// "<namespace>:events:{<sid>}". The hash tag is the session id, so the logs
// of many sessions spread over the slots of a Redis Cluster.
func EventKey(namespace, sid string) string { return namespace + ":events:{" + sid + "}" }

// EventChannel returns the pub/sub channel on which appends to the event
// logs of namespace are announced: "<namespace>:events:notify", each
// message being a session id.
func EventChannel(namespace string) string { return namespace + ":events:notify" }

// Fields of a stream entry.
const (
	eventTypeField = "t"
	eventDataField = "d"
)

// TrimmedKey returns the key holding the id of the last event the cap
// trimmed from session sid's log: what tells a resume that lost events from
// one that lost none (Redis keeps no such record for a MAXLEN trim). It
// shares the log's hash tag, and its expiry.
func TrimmedKey(namespace, sid string) string { return EventKey(namespace, sid) + ":trimmed" }

// ConfirmedKey returns the key holding the id of the last event of
// session sid's log that its replicas confirmed, when appends wait for
// replicas: Range returns no event after it. It shares the log's hash tag,
// and its expiry.
func ConfirmedKey(namespace, sid string) string { return EventKey(namespace, sid) + ":confirmed" }

// appendEventScript appends one event, caps the log (recording the last id
// it trims), expires both keys with the session, and, when ARGV[7] is "1",
// announces the event, atomically and in one round trip. It returns the
// new id.
//
//	KEYS: the session's stream, its trimmed-id key
//	ARGV: max length, expiry (Unix ms), channel, sid, type, data, announce
var appendEventScript = goredis.NewScript(`
local over = redis.call('XLEN', KEYS[1]) + 1 - tonumber(ARGV[1])
if over > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', over)
  redis.call('SET', KEYS[2], gone[#gone][1])
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', 't', ARGV[5], 'd', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
if over > 0 then
  redis.call('PEXPIREAT', KEYS[2], ARGV[2])
end
if ARGV[7] == '1' then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return id
`)

// confirmEventScript records that the replicas confirmed the log up to an
// id (the confirmed id only moves forward, and expires with the log), and
// announces it. It does nothing to a log that is gone.
//
//	KEYS: the session's stream, its confirmed-id key
//	ARGV: the id, channel, sid
var confirmEventScript = goredis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  return 0
end
local function parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local cur = redis.call('GET', KEYS[2])
local ms, seq = parts(ARGV[1])
local cms, cseq = -1, -1
if cur then
  cms, cseq = parts(cur)
end
if ms > cms or (ms == cms and seq > cseq) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// touchEventScript writes the log's own expiry back: a write that is
// replicated after everything before it, for WAIT to confirm them all.
//
//	KEYS: the session's stream
var touchEventScript = goredis.NewScript(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return ttl
`)

// eventQuiet is how long the notification subscription may stay silent
// before it is pinged; unanswered a second time, it is replaced.
const eventQuiet = 5 * time.Second

// EventLogConfig tunes an EventLog. The zero value takes every default.
type EventLogConfig struct {
	// Namespace prefixes the keys and the channel. Default
	// DefaultNamespace. Environments that share a Redis use different
	// namespaces.
	Namespace string
	// MaxLen is how many events a session's log keeps (exact trimming).
	// Default events.DefaultMaxLen.
	MaxLen int
	// Logger receives the subscription's warnings. Default: no logging.
	Logger *zap.Logger
	// Observer is told when the notification subscription is
	// re-established (Resubscribe "events").
	Observer redis.Observer
	// Replication says when an append is acknowledged. Every append waits:
	// an event a stream has delivered with its id must survive a failover,
	// or a client resuming after that id would miss what followed. With
	// replicas required, Range returns only events they confirmed (see
	// EventLog).
	Replication redis.Replication
}

// EventLog is the per-session event log on Redis, shared by every replica:
// an events.Log.
//
// A session's log is a Redis Stream (EventKey), entries {t: type, d: data},
// ids assigned by Redis. Append is one script: XADD with an exact MAXLEN
// (the last id it trims recorded at TrimmedKey), PEXPIREAT at the
// session's expiry, and a PUBLISH of the session id on EventChannel. Range
// is an XRANGE; Gap reads the id, the oldest entry and TrimmedKey.
//
// With replicas required (Replication.MinReplicas > 0), an event is not
// readable until they confirm it: a stream that delivered an event a
// failover then lost would have handed out an id the new master never
// held. Append is then two round trips: the script without its PUBLISH,
// and WAIT; once confirmed, confirmEventScript moves the session's
// confirmed id (ConfirmedKey) up to the event and announces it. Range
// returns nothing after the confirmed id. Replication is in order, so
// confirming an id confirms every event before it, including one whose
// own WAIT fell short. An event left unconfirmed for longer than the WAIT
// timeout (its appender failed, or a failover took the confirmed id back)
// is confirmed by the next Range that meets it: a replicated write of the
// log's own expiry, WAIT, then the same script.
//
// Each EventLog holds one pub/sub connection (Start), whatever the number
// of sessions and streams it serves: it wakes the local waiters of the
// session each message names. When the subscription is re-established
// (go-redis re-dials a broken one; a silent one is pinged, then replaced)
// messages may have been missed, so every local waiter is woken and
// re-reads: the stream is the source of truth, and nothing is lost.
//
// EventLog is safe for concurrent use.
type EventLog struct {
	client  goredis.UniversalClient
	ns      string
	maxLen  int
	channel string
	log     *zap.Logger
	repl    redis.Replication
	obs     redis.Observer
	waiters events.Waiters

	runMu sync.Mutex
	sub   *redis.Subscription // nil until Start, and after Close
}

var _ events.Log = (*EventLog)(nil)

// NewEventLog returns the event log over client. It can append and read at
// once; Notify is only signalled once Start has subscribed.
func NewEventLog(client goredis.UniversalClient, cfg EventLogConfig) (*EventLog, error) {
	if client == nil {
		return nil, errors.New("redis: the event log needs a client")
	}
	if cfg.Namespace == "" {
		cfg.Namespace = redis.DefaultNamespace
	}
	if strings.ContainsAny(cfg.Namespace, "{}") {
		return nil, fmt.Errorf("redis: namespace %q must not contain braces", cfg.Namespace)
	}
	if cfg.MaxLen < 0 {
		return nil, errors.New("redis: negative event log MaxLen")
	}
	if cfg.MaxLen == 0 {
		cfg.MaxLen = events.DefaultMaxLen
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &EventLog{
		client:  client,
		ns:      cfg.Namespace,
		maxLen:  cfg.MaxLen,
		channel: EventChannel(cfg.Namespace),
		log:     cfg.Logger.With(zap.String("component", "events")),
		repl:    cfg.Replication,
		obs:     cfg.Observer,
	}, nil
}

// Start subscribes to the notification channel and relays its messages to
// the local waiters until Close is called. It returns an error wrapping
// events.ErrUnavailable, and starts nothing, when Redis does not confirm
// the subscription.
func (l *EventLog) Start(ctx context.Context) error {
	l.runMu.Lock()
	defer l.runMu.Unlock()
	if l.sub != nil {
		return errors.New("redis: event log already started")
	}
	sub, err := redis.Subscribe(ctx, l.client, redis.SubscriptionConfig{
		Channel: l.channel, Quiet: eventQuiet, Logger: Slog(l.log), OnMessage: l.waiters.Wake,
		Resubscribed: func() {
			// Notifications may have been missed, so every local waiter
			// re-reads; the stream is the source of truth.
			l.waiters.WakeAll()
			if f := l.obs.Resubscribe; f != nil {
				f("events")
			}
		},
		Unavailable: events.ErrUnavailable,
	})
	if err != nil {
		return err
	}
	l.sub = sub
	// Followers that asked before Start had no notification: re-read.
	l.waiters.WakeAll()
	return nil
}

// Close stops the subscription; Notify's functions are no longer called.
// It does not close the client, which the caller owns.
func (l *EventLog) Close() error {
	l.runMu.Lock()
	defer l.runMu.Unlock()
	if l.sub != nil {
		l.sub.Close()
		l.sub = nil
	}
	return nil
}

// Append records the event and returns once Redis has acknowledged it. Any
// failure to reach Redis returns an error wrapping events.ErrUnavailable
// (the event may or may not be recorded). See events.Log.
//
// expires is checked against this replica's clock and applied by Redis's:
// an expiry within their skew of now may drop the log at once, which only
// happens in the last moment of a session.
func (l *EventLog) Append(ctx context.Context, sid, typ string, data json.RawMessage, expires time.Time) (events.Event, error) {
	data, err := events.CheckAppend(sid, typ, data, expires, time.Now())
	if err != nil {
		return events.Event{}, err
	}
	key := EventKey(l.ns, sid)
	announce := "1"
	if l.repl.MinReplicas > 0 {
		announce = "0" // once confirmed
	}
	var cmd *goredis.Cmd
	err = l.repl.Exec(ctx, l.client, key, "event", func(p goredis.Pipeliner, eval bool) {
		cmd = redis.QueueScript(ctx, p, appendEventScript, eval, []string{key, TrimmedKey(l.ns, sid)},
			l.maxLen, expires.UnixMilli(), l.channel, sid, typ, []byte(data), announce)
	})
	var id string
	if err == nil {
		id, err = cmd.Text()
	}
	if err == nil && l.repl.MinReplicas > 0 {
		err = l.confirmed(ctx, sid, id)
	}
	if err != nil {
		return events.Event{}, fmt.Errorf("redis: event not appended: %w: %w", events.ErrUnavailable, err)
	}
	return events.Event{ID: id, Type: typ, Data: data}, nil
}

// confirmed records that the replicas confirmed sid's log up to id, and
// announces it.
func (l *EventLog) confirmed(ctx context.Context, sid, id string) error {
	return confirmEventScript.Run(ctx, l.client, []string{EventKey(l.ns, sid), ConfirmedKey(l.ns, sid)}, id, l.channel, sid).Err()
}

// confirm has the replicas confirm sid's log up to id, which Range read
// but found unconfirmed for longer than a WAIT lasts: a write after it,
// WAIT, then confirmed. It reports whether they did.
func (l *EventLog) confirm(ctx context.Context, sid, id string) bool {
	key := EventKey(l.ns, sid)
	err := l.repl.Exec(ctx, l.client, key, "event", func(p goredis.Pipeliner, eval bool) {
		redis.QueueScript(ctx, p, touchEventScript, eval, []string{key})
	})
	if err == nil {
		err = l.confirmed(ctx, sid, id)
	}
	if err != nil {
		l.log.Debug("unconfirmed events stay unread", zap.String("session", sid), zap.Error(err))
		return false
	}
	return true
}

// Range reads events of sid after afterID. Failing to reach Redis returns
// an error wrapping events.ErrUnavailable. See events.Log.
func (l *EventLog) Range(ctx context.Context, sid, afterID string, limit int) ([]events.Event, error) {
	after, err := events.CheckRange(sid, afterID, limit)
	if err != nil {
		return nil, err
	}
	from, ok := after.Next()
	if !ok {
		return nil, nil
	}
	key := EventKey(l.ns, sid)
	var msgs []goredis.XMessage
	if l.repl.MinReplicas > 0 {
		msgs, err = l.rangeConfirmed(ctx, sid, from.String(), limit)
	} else {
		msgs, err = l.client.XRangeN(ctx, key, from.String(), "+", int64(limit)).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("redis: read events: %w: %w", events.ErrUnavailable, err)
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	out := make([]events.Event, len(msgs))
	for i, m := range msgs {
		typ, ok1 := m.Values[eventTypeField].(string)
		data, ok2 := m.Values[eventDataField].(string)
		if !ok1 || !ok2 {
			// Only Append writes these keys: someone else wrote here.
			return nil, fmt.Errorf("redis: malformed event %s in %s", m.ID, key)
		}
		out[i] = events.Event{ID: m.ID, Type: typ, Data: json.RawMessage(data)}
	}
	return out, nil
}

// rangeConfirmed reads sid's log from id from, and keeps the events up to
// its confirmed id. When the first one after it is older than a WAIT
// lasts, nobody is about to confirm it: confirm it here, and keep all.
func (l *EventLog) rangeConfirmed(ctx context.Context, sid, from string, limit int) ([]goredis.XMessage, error) {
	var read *goredis.XMessageSliceCmd
	var upTo *goredis.StringCmd
	_, err := l.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		read = p.XRangeN(ctx, EventKey(l.ns, sid), from, "+", int64(limit))
		upTo = p.Get(ctx, ConfirmedKey(l.ns, sid))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	msgs := read.Val()
	confirmed, _ := events.ParseID(upTo.Val()) // none: the zero id
	n := 0
	for n < len(msgs) {
		id, err := events.ParseID(msgs[n].ID)
		if err != nil || id.Compare(confirmed) > 0 {
			break
		}
		n++
	}
	if n == len(msgs) {
		return msgs, nil
	}
	first, _ := events.ParseID(msgs[n].ID)
	if time.Since(time.UnixMilli(int64(first.Ms))) > l.repl.WaitTimeout()+confirmSlack && l.confirm(ctx, sid, msgs[len(msgs)-1].ID) {
		return msgs, nil
	}
	return msgs[:n], nil
}

// confirmSlack is how much longer than a WAIT an event may wait for its
// own appender's confirmation before a reader confirms it: the appender's
// second round trip, and the skew between Redis's clock (the id) and ours.
const confirmSlack = time.Second

// Gap reports whether resuming after afterID skips events (see
// events.Log): the id is looked up in the stream, and compared with the
// last id the cap trimmed (XINFO STREAM's max-deleted-entry-id). A stream
// that is gone (expired, or lost with Redis's data) is a gap.
func (l *EventLog) Gap(ctx context.Context, sid, afterID string) (bool, string, error) {
	after, err := events.CheckRange(sid, afterID, 1)
	if err != nil || afterID == "" {
		return false, "", err
	}
	key := EventKey(l.ns, sid)
	var held, first *goredis.XMessageSliceCmd
	var trimmed *goredis.StringCmd
	_, err = l.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		held = p.XRangeN(ctx, key, afterID, afterID, 1)
		first = p.XRangeN(ctx, key, "-", "+", 1)
		trimmed = p.Get(ctx, TrimmedKey(l.ns, sid))
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return false, "", fmt.Errorf("redis: read the event log: %w: %w", events.ErrUnavailable, err)
	}
	if len(first.Val()) == 0 {
		return true, "", nil // expired, or lost with Redis's data
	}
	last, _ := events.ParseID(trimmed.Val()) // none: the zero id
	return len(held.Val()) == 0 && after != last, first.Val()[0].ID, nil
}

// Notify registers wake, called when a notification for sid arrives on
// this EventLog's subscription, or the subscription is re-established.
// See events.Log.
func (l *EventLog) Notify(sid string, wake func()) (cancel func()) {
	return l.waiters.Add(sid, wake)
}
