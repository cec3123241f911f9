package revoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/causeflow/widget-sessions/pkg/token"
)

// Source is the shared store a Mirror follows: its reads, and the repairs
// only the store can make. The Redis adapter implements it.
type Source interface {
	// Poll reads, in one round trip, the store's version (the number of
	// writes it has published) and whether its marker is there.
	Poll(ctx context.Context) (version int64, marker bool, err error)
	// Load reads every entry, the version they are current to and the
	// marker, consistently. More entries than the mirror may hold is an
	// error wrapping ErrTooMany, and nothing is read.
	Load(ctx context.Context) (Snapshot, error)
	// Mark makes sure the marker is there. When it is not (the store lost
	// its data), it first writes an all entry revoking every token issued
	// until now, and returns it with emptied set. It also prunes expired
	// entries.
	Mark(ctx context.Context) (all Entry, emptied bool, err error)
	// Repair writes back those of suspects the store does not hold (it
	// reads them again first: most are writes that landed after the
	// snapshot) and returns how many it wrote.
	Repair(ctx context.Context, suspects []Entry) (restored int, err error)
}

// Snapshot is what Source.Load reads.
type Snapshot struct {
	Set     Set
	Version int64
	Marker  bool
	// Expired counts entries past their expiry that the store still
	// holds: a quiet store needs a Mark to prune them.
	Expired int
}

// MirrorConfig tunes a Mirror. The zero value takes every default.
type MirrorConfig struct {
	// PollInterval is how often the mirror polls the source. Default 1s.
	PollInterval time.Duration
	// ResyncInterval is how often it loads the whole set anyway. Default 60s.
	ResyncInterval time.Duration
	// StalenessBudget is how long it answers after its last confirmation
	// that it is current; past it IsRevoked fails closed. It must exceed
	// PollInterval. Default 5s.
	StalenessBudget time.Duration
	// Leeway is the validators' clock-skew leeway: entries are bounded to
	// now + MaxTTL + Leeway (Entry.Bound). Default 30s.
	Leeway time.Duration
	// MaxEntries bounds the set; past it the mirror fails closed. Default
	// DefaultMaxEntries.
	MaxEntries int
	// Now is the clock for entry times; staleness is measured on the
	// monotonic clock whatever it is. Default time.Now.
	Now func() time.Time
	// Logger receives the mirror's errors and warnings. Default: none.
	Logger *slog.Logger
	// OnResync, when set, is told of every full load: "start",
	// "periodic", "gap" or "loss" (a metric).
	OnResync func(reason string)
}

func (c MirrorConfig) withDefaults() (MirrorConfig, error) {
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = time.Minute
	}
	if c.StalenessBudget == 0 {
		c.StalenessBudget = 5 * time.Second
	}
	if c.Leeway == 0 {
		c.Leeway = 30 * time.Second
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.PollInterval < 0 || c.ResyncInterval < 0 || c.Leeway < 0:
		return c, errors.New("revoke: negative interval or leeway")
	case c.StalenessBudget <= c.PollInterval:
		return c, fmt.Errorf("revoke: staleness budget %v must exceed the poll interval %v", c.StalenessBudget, c.PollInterval)
	}
	return c, nil
}

// maxPending bounds the versions held ahead of a gap before the mirror
// gives up waiting for the missing message and re-syncs.
const maxPending = 10_000

// Mirror is a validator's in-memory copy of a shared revocation store,
// kept current by what its adapter feeds it (Apply, Noted: the store's
// published writes) and by polling its Source.
//
// Sync loads the whole set. Run polls every PollInterval: a version the
// mirror has not caught up with a poll later (a message lost), a version
// gone backwards or a missing marker (data lost), or a re-sync asked for
// (a re-subscription: messages may have been missed) trigger a full
// load, and one happens every ResyncInterval anyway. A load merges into
// the mirror, never replaces it: entries only go away by expiring, so an
// entry the mirror holds and the store lacks was lost by the store, and is
// written back (Source.Repair).
//
// IsRevoked is a map lookup. When no poll or load has confirmed the mirror
// current within StalenessBudget, or the store holds more than MaxEntries,
// it fails closed with ErrStale; a token the mirror knows revoked is
// reported revoked even then.
//
// A Mirror is safe for concurrent use.
type Mirror struct {
	src   Source
	cfg   MirrorConfig
	log   *slog.Logger
	stale error // what IsRevoked returns when stale, built once

	mu        sync.RWMutex
	set       Set
	listeners Listeners

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

	resyncReq  chan string
	failing    atomic.Bool
	overflowed atomic.Bool
	feedDown   atomic.Bool // the adapter's feed of published writes is broken
}

// NewMirror returns a mirror of src, empty and stale until Sync.
func NewMirror(src Source, cfg MirrorConfig) (*Mirror, error) {
	if src == nil {
		return nil, errors.New("revoke: a mirror needs a source")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Mirror{
		src:       src,
		cfg:       cfg,
		log:       cfg.Logger,
		stale:     fmt.Errorf("revoke: revocation mirror not confirmed current within %v: %w", cfg.StalenessBudget, ErrStale),
		pending:   make(map[int64]struct{}),
		resyncReq: make(chan string, 1),
	}
	m.isStale.Store(true)
	m.staleTimer = time.AfterFunc(time.Hour, m.checkStale)
	m.staleTimer.Stop()
	return m, nil
}

// IsRevoked reports whether a token with claims c is revoked. Its error
// wraps ErrStale when the mirror cannot vouch that it is current; it never
// does I/O and never allocates.
func (m *Mirror) IsRevoked(c *token.Claims) (bool, error) {
	m.mu.RLock()
	revoked := m.set.Revoked(c)
	m.mu.RUnlock()
	if !revoked && (m.isStale.Load() || m.overflowed.Load()) {
		return false, m.stale
	}
	return revoked, nil
}

// Fresh returns nil when the mirror is current within the budget, and the
// error IsRevoked would return otherwise: a validator's readiness check.
func (m *Mirror) Fresh() error {
	if m.isStale.Load() || m.overflowed.Load() {
		return m.stale
	}
	return nil
}

// Age returns how long ago the mirror was last confirmed current.
func (m *Mirror) Age() time.Duration {
	m.freshMu.Lock()
	defer m.freshMu.Unlock()
	if m.freshAt.IsZero() {
		return 0
	}
	return time.Since(m.freshAt)
}

// Subscribe calls fn with each entry that revokes more than the mirror
// held before, until cancel is called. See Listeners.
func (m *Mirror) Subscribe(fn func(Entry)) (cancel func()) { return m.listeners.Subscribe(fn) }

// Len returns the number of entries held.
func (m *Mirror) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.set.Len()
}

// Entries returns the entries held, ordered by kind, tenant, subject.
func (m *Mirror) Entries() []Entry {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.set.Entries()
}

// Apply merges e, bounded at now, into the mirror and tells the listeners
// when it revokes more than before. A new entry past MaxEntries is not
// applied: the mirror fails closed until a load finds the store within
// bounds again.
func (m *Mirror) Apply(e Entry) (changed bool) {
	now := m.cfg.Now()
	e, ok := e.Bound(now, m.cfg.Leeway)
	if !ok {
		return false // a session that cannot have been minted
	}
	m.mu.Lock()
	m.set.Prune(now)
	if !m.set.Has(e) && m.set.Len() >= m.cfg.MaxEntries {
		m.mu.Unlock()
		m.overflow(m.cfg.MaxEntries + 1)
		return false
	}
	merged, changed := m.set.Add(e)
	m.mu.Unlock()
	if changed {
		m.listeners.Notify(merged)
	}
	return changed
}

// Noted records that the write of version v is applied (a published
// message): the mirror is current once every version up to the store's is.
func (m *Mirror) Noted(v int64) {
	m.vmu.Lock()
	defer m.vmu.Unlock()
	if v <= m.applied {
		return
	}
	m.pending[v] = struct{}{}
	m.advance()
	if len(m.pending) > maxPending {
		clear(m.pending)
		m.RequestResync("gap")
	}
}

// FeedDown tells the mirror whether the adapter's feed of published writes
// (a subscription) is broken. While it is, the mirror hears of another
// replica's revocation only by polling, so:
//   - a poll that finds the store ahead re-syncs at once, rather than give
//     the message a poll interval to arrive (it will not);
//   - it polls four times as often;
//   - it vouches for at most PollInterval past its last confirmation,
//     rather than the whole StalenessBudget: a revocation acknowledged
//     elsewhere just before the store went away is never ignored for
//     longer than that; the mirror fails closed instead.
func (m *Mirror) FeedDown(down bool) {
	if m.feedDown.Swap(down) != down {
		m.checkStale() // the budget changed: re-arm the timer
	}
}

// budget is how long past its last confirmation the mirror vouches for.
func (m *Mirror) budget() time.Duration {
	if m.feedDown.Load() {
		return min(m.cfg.StalenessBudget, m.cfg.PollInterval)
	}
	return m.cfg.StalenessBudget
}

// RequestResync asks Run for a full load soon: reason is "gap" (messages
// may have been missed: a re-subscription, a malformed message) or "loss".
func (m *Mirror) RequestResync(reason string) {
	select {
	case m.resyncReq <- reason:
	default:
	}
}

// Sync loads the whole set once, as Run does when it must: the first
// load of a replica, which must not serve before it succeeds.
func (m *Mirror) Sync(ctx context.Context) error { return m.resync(ctx, false, "start") }

// Run polls and re-syncs until ctx is done.
func (m *Mirror) Run(ctx context.Context) {
	tick := time.NewTicker(m.cfg.PollInterval)
	defer tick.Stop()
	lastFull := time.Now()
	full, lost := false, false // a re-sync is due; data was lost
	reason := ""
	for {
		// While the feed is broken, nothing but the polls tells of new
		// writes: poll four times as often.
		if m.feedDown.Load() {
			tick.Reset(max(m.cfg.PollInterval/4, 10*time.Millisecond))
		} else {
			tick.Reset(m.cfg.PollInterval)
		}
		select {
		case <-ctx.Done():
			return
		case reason = <-m.resyncReq:
			full = true
		case <-tick.C:
			if !full && time.Since(lastFull) < m.cfg.ResyncInterval {
				need, loss, err := m.poll(ctx)
				if err != nil {
					m.failed("poll the revocation store", err)
					continue
				}
				full, lost, reason = need, lost || loss, "gap"
			} else if !full {
				full, reason = true, "periodic"
			}
		}
		if full {
			if lost {
				reason = "loss"
			}
			if err := m.resync(ctx, lost, reason); err != nil {
				m.failed("re-sync the revocation mirror", err)
				continue // full stays set: the next tick retries
			}
			full, lost, lastFull = false, false, time.Now()
		}
		m.recovered()
	}
}

// Close stops the staleness timer; IsRevoked fails closed from then on.
func (m *Mirror) Close() {
	m.freshMu.Lock()
	defer m.freshMu.Unlock()
	m.closed = true
	m.staleTimer.Stop()
	m.isStale.Store(true)
}

// WaitOutAllSecond returns once the clock is past the time of an all
// entry that covers now, so that no token minted after it returns is born
// revoked. It waits at most a second, less if ctx ends.
func (m *Mirror) WaitOutAllSecond(ctx context.Context) {
	m.mu.RLock()
	all, ok := Entry{}, false
	for e := range m.set.All() {
		if e.Kind == KindAll {
			all, ok = e, true
		}
	}
	m.mu.RUnlock()
	if !ok {
		return
	}
	if wait := all.Before.Add(time.Millisecond).Sub(m.cfg.Now()); wait > 0 {
		t := time.NewTimer(min(wait, time.Second))
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// poll reads the version and the marker. The mirror is current when the
// marker is there and every version the previous poll saw is applied: a
// message in flight gets one poll interval to arrive.
func (m *Mirror) poll(ctx context.Context) (resync, lost bool, err error) {
	sent := time.Now()
	ctx, cancel := context.WithTimeout(ctx, m.cfg.PollInterval)
	defer cancel()
	v, marker, err := m.src.Poll(ctx)
	if err != nil {
		return false, false, err
	}
	if !marker {
		return true, true, nil
	}
	m.vmu.Lock()
	applied, prev := m.applied, m.polled
	m.polled = v
	m.vmu.Unlock()
	switch {
	case v < applied:
		return true, true, nil // the version went backwards: writes were lost
	case applied < prev:
		return true, false, nil // a message published a poll ago never came
	case applied < v && m.feedDown.Load():
		return true, false, nil // no message can come: the feed is broken
	case applied < v:
		// Messages in flight get a poll interval to arrive; meanwhile the
		// mirror is not current as of this poll, so it is not marked so.
		return false, false, nil
	}
	m.markFresh(sent)
	return false, false, nil
}

// resync merges the whole set into the mirror, making sure of the marker
// first, and writes back what the store lost. lost means the version went
// backwards or the marker vanished: the version bookkeeping restarts from
// the store's.
func (m *Mirror) resync(ctx context.Context, lost bool, reason string) error {
	if f := m.cfg.OnResync; f != nil {
		f(reason)
	}
	sent := time.Now()
	snap, err := m.load(ctx)
	if err != nil {
		return err
	}
	if !snap.Marker {
		all, emptied, err := m.src.Mark(ctx)
		if err != nil {
			return err
		}
		if emptied {
			m.Apply(all)
		}
		lost = true
		if snap, err = m.load(ctx); err != nil {
			return err
		}
	}
	told, suspects := m.merge(&snap)
	for _, e := range told {
		m.listeners.Notify(e)
	}

	m.vmu.Lock()
	if lost || snap.Version > m.applied {
		if lost {
			clear(m.pending)
		}
		m.applied = snap.Version
	}
	m.advance()
	m.polled = snap.Version
	m.vmu.Unlock()

	if len(suspects) > 0 {
		restored, err := m.src.Repair(ctx, suspects)
		if err != nil {
			m.RequestResync("loss")
			m.failed("restore revocations the store lost", err)
		} else if restored > 0 {
			m.log.Warn("restored revocations that the store had lost", slog.Int("count", restored))
		}
	}
	if snap.Expired > 0 { // writes prune a batch each; a quiet store needs help
		if _, _, err := m.src.Mark(ctx); err != nil {
			m.failed("prune expired revocations", err)
		}
	}
	m.markFresh(sent)
	return nil
}

// load reads a snapshot, bounding its entries as every write does, and
// records whether the store holds more than the mirror may.
func (m *Mirror) load(ctx context.Context) (Snapshot, error) {
	snap, err := m.src.Load(ctx)
	if errors.Is(err, ErrTooMany) {
		m.overflow(-1)
	}
	if err != nil {
		return Snapshot{}, err
	}
	if n := snap.Set.Len(); n > m.cfg.MaxEntries {
		m.overflow(n)
		return Snapshot{}, fmt.Errorf("revoke: the store holds %d entries, more than %d: %w", n, m.cfg.MaxEntries, ErrTooMany)
	}
	// Bound what the store holds as every write is bounded; a copy only
	// when an entry needs it (one written before the bound existed).
	now := m.cfg.Now()
	for e := range snap.Set.All() {
		if b, ok := e.Bound(now, m.cfg.Leeway); !ok || !b.Expires.Equal(e.Expires) {
			var bounded Set
			for e := range snap.Set.All() {
				if e, ok := e.Bound(now, m.cfg.Leeway); ok {
					bounded.Add(e)
				}
			}
			snap.Set = bounded
			break
		}
	}
	m.overflowed.Store(false)
	return snap, nil
}

// merge merges snap into the mirror. It returns the entries that changed
// the mirror, and the suspects: entries of the mirror snap does not cover.
func (m *Mirror) merge(snap *Snapshot) (told, suspects []Entry) {
	m.mu.Lock()
	if m.set.Len() == 0 { // the first load: take the snapshot whole
		m.set, snap.Set = snap.Set, Set{}
		m.set.Prune(m.cfg.Now())
		told = slices.AppendSeq(make([]Entry, 0, m.set.Len()), m.set.All())
		m.mu.Unlock()
		return told, nil
	}
	m.mu.Unlock()

	// Compare under the read lock, which validation shares; take the write
	// lock only for what changes, usually nothing.
	var news []Entry
	m.mu.RLock()
	for e := range snap.Set.All() {
		if !m.set.Contains(e) {
			news = append(news, e)
		}
	}
	m.mu.RUnlock()
	m.mu.Lock()
	for _, e := range news {
		if merged, changed := m.set.Add(e); changed {
			told = append(told, merged)
		}
	}
	m.set.Prune(m.cfg.Now())
	m.mu.Unlock()
	m.mu.RLock()
	for e := range m.set.All() {
		if !snap.Set.Covers(e) {
			suspects = append(suspects, e)
		}
	}
	m.mu.RUnlock()
	return told, suspects
}

// advance moves applied over the contiguous pending versions. vmu is held.
func (m *Mirror) advance() {
	for v := range m.pending {
		if v <= m.applied {
			delete(m.pending, v)
		}
	}
	for {
		if _, ok := m.pending[m.applied+1]; !ok {
			return
		}
		delete(m.pending, m.applied+1)
		m.applied++
	}
}

// markFresh records that the mirror held every revocation made before at.
func (m *Mirror) markFresh(at time.Time) {
	m.freshMu.Lock()
	defer m.freshMu.Unlock()
	if m.closed || at.Before(m.freshAt) {
		return
	}
	m.freshAt = at
	if left := m.budget() - time.Since(at); left > 0 {
		m.isStale.Store(false)
		m.staleTimer.Reset(left)
	}
}

// checkStale runs when the budget may have run out since the last fresh
// mark.
func (m *Mirror) checkStale() {
	m.freshMu.Lock()
	defer m.freshMu.Unlock()
	if m.closed || m.freshAt.IsZero() {
		return
	}
	if left := m.budget() - time.Since(m.freshAt); left > 0 {
		if !m.isStale.Load() {
			m.staleTimer.Reset(left)
		}
		return
	}
	if !m.isStale.Swap(true) {
		m.log.Error("revocation mirror is stale: token validation fails closed until the store answers again",
			slog.Duration("budget", m.budget()), slog.Bool("feed_down", m.feedDown.Load()))
	}
}

// overflow records that the store holds more than MaxEntries entries (n,
// or more; -1 when unknown): the mirror cannot hold them all, so it cannot
// vouch for any token it does not know revoked, and fails closed until a
// load finds the store within bounds.
func (m *Mirror) overflow(n int) {
	if !m.overflowed.Swap(true) {
		m.log.Error("the revocation store holds more entries than WIDGET_REVOCATION_MAX_ENTRIES: refusing to load them, validation fails closed",
			slog.Int("entries", n), slog.Int("max", m.cfg.MaxEntries))
	}
	m.RequestResync("gap")
}

// failed logs the first failure of a run of them.
func (m *Mirror) failed(what string, err error) {
	if !m.failing.Swap(true) {
		m.log.Warn("cannot "+what, slog.Any("error", err))
	}
}

// recovered logs the end of a run of failures.
func (m *Mirror) recovered() {
	if m.failing.Swap(false) {
		m.log.Info("revocation mirror in sync with the store again")
	}
}
