// Package stream is the widget's stream use case, apart from HTTP: which
// streams a replica may hold (per session, per client address), where a
// stream resumes, and when it ends (expiry, revocation, unknown revocation
// state, a drain), with the end codes defined once.
//
// # One follower per session
//
// A Hub holds every open stream of a replica. The streams of one session
// share one follower: it registers once with the event log's notifications
// (the replica's single subscription) and reads the log once per wake-up,
// whatever the number of its streams, keeping what it read until every one
// of them has taken it. A stream behind what the follower holds (a resume
// from far back, a slow client) reads the log itself until it catches up.
// Nothing polls: a notification lost while Redis's subscription reconnects
// is made good by the re-subscription, which wakes every follower.
//
// # One clock per replica
//
// A stream has no timer of its own. The Hub runs one goroutine with one
// timer for the earliest session expiry (a heap orders the rest), one
// heartbeat ticker that pings every stream, and one liveness ticker that
// checks the revocation state is known and retries failed reads.
// Revocation is pushed: the Hub subscribes once to the revocation store,
// and an entry that matches a session ends its streams at once.
package stream

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/events"
	"github.com/causeflow/widget-sessions/pkg/revoke"
	"github.com/causeflow/widget-sessions/pkg/token"
	"github.com/causeflow/widget-sessions/pkg/widget"
)

// Codes of the final error event of a stream.
const (
	// EndRevoked: the session was revoked; the widget stops.
	EndRevoked = "session_revoked"
	// EndExpired: the session's token expired; the widget needs a new one.
	EndExpired = "session_expired"
	// EndRevocationUnknown: this replica cannot vouch that the session is
	// not revoked (fail closed); the client reconnects, and is answered
	// 503 until it can.
	EndRevocationUnknown = widget.CodeRevocationUnknown
	// EndInterrupted: the log cannot be read as it should (a malformed
	// event); the client reconnects and resumes.
	EndInterrupted = "stream_interrupted"
)

// End is the payload of a stream's final error event: why it ends. It is
// also the error Check returns, so that the HTTP layer answers a session
// that may not stream through its one error table.
type End struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *End) Error() string { return "stream: " + e.Message }

// The ends Check returns, for errors.Is.
var (
	ErrSessionRevoked    error = endRevoked
	ErrSessionExpired    error = endExpired
	ErrRevocationUnknown error = endUnknown
)

var (
	endRevoked   = &End{Code: EndRevoked, Message: "session revoked"}
	endExpired   = &End{Code: EndExpired, Message: "session expired"}
	endUnknown   = &End{Code: EndRevocationUnknown, Message: "revocation state unknown; retry"}
	endInterrupt = &End{Code: EndInterrupted, Message: "the stream was interrupted; reconnect to resume"}
	endGone      = &End{Code: EndInterrupted, Message: "the client left"}
)

// Revocations is what a Hub needs of the revocation store: whether a
// session is revoked, whether the answer can be trusted now, and every
// revocation as it is applied on this replica (its own, or another's
// through Redis). revoke.Memory and redis.Revocations satisfy it.
type Revocations interface {
	IsRevoked(c *token.Claims) (bool, error)
	Fresh() error
	Subscribe(fn func(revoke.Entry)) (cancel func())
}

// Config tunes a Hub. The zero value takes every default.
type Config struct {
	// MaxPerSession bounds the open streams of one session on a replica.
	// Default 5.
	MaxPerSession int
	// MaxPerClient bounds the open streams of one client address on a
	// replica. Default 100.
	MaxPerClient int
	// Heartbeat is how often every stream is pinged, so that proxies see
	// traffic. Default 15s.
	Heartbeat time.Duration
	// Liveness is how often the Hub checks that the revocation state is
	// known (and ends every stream when it is not), and retries the reads
	// that failed. Default 1s.
	Liveness time.Duration
	// Logger logs what goes wrong. Default: none.
	Logger *zap.Logger
	// OnClose, when set, is told how each stream ended when it is closed:
	// its end code (EndRevoked, EndExpired, EndRevocationUnknown,
	// EndInterrupted), "drained" when its replica went away, or "closed"
	// when the client left or the stream was closed before any end.
	OnClose func(reason string)
}

func (c Config) withDefaults() Config {
	if c.MaxPerSession <= 0 {
		c.MaxPerSession = 5
	}
	if c.MaxPerClient <= 0 {
		c.MaxPerClient = 100
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Liveness <= 0 {
		c.Liveness = time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Hub holds the open streams of one replica. It is safe for concurrent
// use. Close it to stop its goroutine.
type Hub struct {
	log  events.Log
	revs Revocations
	cfg  Config

	mu       sync.Mutex
	sessions map[string]*follower
	byClient map[string]map[*Stream]struct{}
	open     int
	expiry   expiryHeap
	retry    map[*follower]struct{} // reads that failed, retried on the liveness tick
	draining bool

	rearm        chan struct{} // the earliest expiry changed
	stopRevs     func()
	cancel       context.CancelFunc
	done         chan struct{}
	closeOnce    sync.Once
	onRevocation func(revoke.Entry) // for tests: after the streams are told
}

// NewHub returns a Hub following log, and starts its goroutine.
func NewHub(log events.Log, revs Revocations, cfg Config) (*Hub, error) {
	if log == nil || revs == nil {
		return nil, errors.New("stream: a hub needs an event log and revocations")
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		log: log, revs: revs, cfg: cfg.withDefaults(),
		sessions: map[string]*follower{}, byClient: map[string]map[*Stream]struct{}{}, retry: map[*follower]struct{}{},
		rearm: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
	}
	h.stopRevs = revs.Subscribe(h.revoked)
	go func() { defer close(h.done); h.run(ctx) }()
	return h, nil
}

// Close stops the Hub's goroutine and its revocation subscription. Open
// streams are not ended (Drain does that).
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.stopRevs()
		h.cancel()
		<-h.done
	})
}

// Streams returns how many streams are open on this replica.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
}

// Wait waits until no stream is open, or ctx ends (returning its error):
// after Drain, for a graceful shutdown.
func (h *Hub) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for h.Streams() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Drain tells every open stream, and every stream opened from now on, that
// this replica is going away: each asks its client to reconnect (and
// resume elsewhere) and ends.
func (h *Hub) Drain() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.draining = true
	for _, f := range h.sessions {
		f.tellAll(func(s *Stream) { s.drain = true })
	}
}

// Check tells why a session may not stream: expired, revoked, or
// revocation state unknown (fail closed). It returns nil while it may.
func (h *Hub) Check(c *token.Claims) *End {
	if time.Now().Unix() >= c.Expiry {
		return endExpired
	}
	switch revoked, err := h.revs.IsRevoked(c); {
	case err != nil:
		return endUnknown
	case revoked:
		return endRevoked
	}
	return nil
}

// Request is a stream to open.
type Request struct {
	// Claims are the session's verified claims.
	Claims *token.Claims
	// After is the id of the last event the client has ("": from the
	// start). It must be a valid event id.
	After string
	// Client is the client's address, for the per-client bound. IPv6
	// addresses count by their /64 (see ClientGroup).
	Client string
}

// Open opens a stream of req.Claims's session. It fails with a
// CodeTooManyStreams error when a bound is reached, and with the log's
// error when where to resume cannot be decided (an invalid session or
// event id; the log is unavailable).
// A stream of a session that may not stream opens, and ends at once with
// the reason. Close the stream when done with it.
func (h *Hub) Open(ctx context.Context, req Request) (*Stream, error) {
	c := req.Claims
	req.Client = ClientGroup(req.Client)
	// Where to resume is decided before the stream counts: a log that
	// no longer holds what followed After starts the stream with a reset.
	gap, oldest, err := h.log.Gap(ctx, c.SessionID, req.After)
	if err != nil {
		return nil, err
	}
	s := &Stream{hub: h, claims: c, client: req.Client, signal: make(chan struct{}, 1), cursor: req.After, more: true}
	if gap {
		reset := resetEvent(oldest)
		s.reset, s.cursor = &reset, ""
	}

	h.mu.Lock()
	if f := h.sessions[c.SessionID]; len(h.byClient[req.Client]) >= h.cfg.MaxPerClient || f != nil && f.count() >= h.cfg.MaxPerSession {
		h.evictGone(req.Client, f)
	}
	if len(h.byClient[req.Client]) >= h.cfg.MaxPerClient {
		h.mu.Unlock()
		return nil, &widget.Error{Code: widget.CodeTooManyStreams, Message: fmt.Sprintf("at most %d open streams per client address", h.cfg.MaxPerClient), RetryAfter: 5 * time.Second}
	}
	f := h.sessions[c.SessionID]
	if f != nil && f.count() >= h.cfg.MaxPerSession {
		h.mu.Unlock()
		return nil, &widget.Error{Code: widget.CodeTooManyStreams, Message: fmt.Sprintf("at most %d open streams per session", h.cfg.MaxPerSession), RetryAfter: 5 * time.Second}
	}
	if f == nil {
		f = newFollower(h, c, s.cursor)
		h.sessions[c.SessionID] = f
		f.cancelNotify = h.log.Notify(c.SessionID, f.wake)
		h.expiry.push(f)
		if h.expiry.items[0] == f {
			select {
			case h.rearm <- struct{}{}:
			default:
			}
		}
	}
	f.add(s)
	s.f = f
	s.drain = h.draining
	set := h.byClient[req.Client]
	if set == nil {
		set = map[*Stream]struct{}{}
		h.byClient[req.Client] = set
	}
	set[s] = struct{}{}
	h.open++
	h.mu.Unlock()

	// Registered before this check: a revocation applied from now on
	// ends the stream by push, one applied before is seen here.
	if end := h.Check(c); end != nil {
		s.end(end)
	}
	return s, nil
}

// evictGone ends and forgets the streams of a client address and of a
// session (f, which may be nil) whose client left, as their probes tell: a
// bound must not be held by streams nobody reads. hub.mu is held.
func (h *Hub) evictGone(client string, f *follower) {
	var gone []*Stream
	for s := range h.byClient[client] {
		if s.gone() {
			gone = append(gone, s)
		}
	}
	if f != nil {
		for s := range f.streams {
			if s.client != client && s.gone() {
				gone = append(gone, s)
			}
		}
	}
	for _, s := range gone {
		s.end(endGone)
		h.forget(s)
	}
}

// release forgets s, once; the last stream of a session takes its
// follower.
func (h *Hub) release(s *Stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.forget(s)
}

// forget does release's work, once per stream. hub.mu is held.
func (h *Hub) forget(s *Stream) {
	if s.forgotten {
		return
	}
	s.forgotten = true
	f := s.f
	if f.remove(s) == 0 {
		delete(h.sessions, f.sid)
		delete(h.retry, f)
		h.expiry.remove(f)
		f.cancelNotify()
	}
	if set := h.byClient[s.client]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.byClient, s.client)
		}
	}
	h.open--
}

// revoked ends the streams an applied revocation entry matches.
func (h *Hub) revoked(e revoke.Entry) {
	h.mu.Lock()
	if e.Kind == revoke.KindSession {
		if f := h.sessions[e.Subject]; f != nil && e.Matches(f.claims) {
			f.tellAll(func(s *Stream) { s.setEnd(endRevoked) })
		}
	} else {
		for _, f := range h.sessions {
			if e.Matches(f.claims) {
				f.tellAll(func(s *Stream) { s.setEnd(endRevoked) })
			}
		}
	}
	h.mu.Unlock()
	if h.onRevocation != nil {
		h.onRevocation(e)
	}
}

// run is the replica's one clock: expiry, heartbeats, liveness.
func (h *Hub) run(ctx context.Context) {
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	heartbeat := time.NewTicker(h.cfg.Heartbeat)
	defer heartbeat.Stop()
	liveness := time.NewTicker(h.cfg.Liveness)
	defer liveness.Stop()
	arm := func() {
		h.mu.Lock()
		next := time.Hour
		if len(h.expiry.items) > 0 {
			next = time.Until(time.Unix(h.expiry.items[0].claims.Expiry, 0))
		}
		h.mu.Unlock()
		expiry.Reset(max(next, 0))
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.rearm:
			arm()
		case <-expiry.C:
			h.expire(time.Now().Unix())
			arm()
		case <-heartbeat.C:
			h.mu.Lock()
			for _, f := range h.sessions {
				f.tellAll(func(s *Stream) { s.ping = true })
			}
			h.mu.Unlock()
		case <-liveness.C:
			h.live()
		}
	}
}

// expire ends the streams of every session whose token expired by now.
func (h *Hub) expire(now int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.expiry.items) > 0 && h.expiry.items[0].claims.Expiry <= now {
		f := h.expiry.pop()
		f.tellAll(func(s *Stream) { s.setEnd(endExpired) })
	}
}

// live fails every stream closed when the revocation state is unknown, and
// retries the reads that failed.
func (h *Hub) live() {
	fresh := h.revs.Fresh()
	h.mu.Lock()
	if fresh != nil {
		for _, f := range h.sessions {
			f.tellAll(func(s *Stream) { s.setEnd(endUnknown) })
		}
		h.mu.Unlock()
		return
	}
	retry := make([]*follower, 0, len(h.retry))
	for f := range h.retry {
		retry = append(retry, f)
	}
	clear(h.retry)
	h.mu.Unlock()
	for _, f := range retry {
		f.wake()
	}
}

// failed records that a read of f's log failed, to retry on the next
// liveness tick.
func (h *Hub) failed(f *follower) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[f.sid] == f {
		h.retry[f] = struct{}{}
	}
}

// ClientGroup returns what the per-client bound counts an address as: an
// IPv4 address as itself, an IPv6 address as its /64. One subscriber is
// given a /64 (RFC 6177) and picks any address in it at will, so bounding
// single IPv6 addresses would bound nothing. Anything else is returned as
// it is.
func ClientGroup(addr string) string {
	ip, err := netip.ParseAddr(addr)
	switch {
	case err != nil:
		return addr
	case ip.Is4In6():
		return ip.Unmap().String()
	case ip.Is4():
		return addr
	}
	p, _ := ip.WithZone("").Prefix(64) // an IPv6 address always has a /64
	return p.String()
}
