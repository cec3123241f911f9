package incident

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/causeflow/widget-sessions/internal/lookup"
	"github.com/causeflow/widget-sessions/internal/ttlcache"
)

// DefaultCacheTTL is how long Service remembers a context when given no
// TTL: an incident's status and timeline move, so a widget may show a
// context up to this old.
const DefaultCacheTTL = 5 * time.Minute

// DefaultCacheEntries bounds the contexts a Service holds in process.
const DefaultCacheEntries = 10000

// NotFoundTTL is how long a replica remembers that the source has no such
// incident (at most the context TTL): a session whose incident is unknown,
// or a caller minting for one again and again, then costs the source one
// request per replica in this time, not one per widget load or mint.
const NotFoundTTL = 30 * time.Second

// Service looks incidents up through two tiers: the contexts this replica
// holds in process, and a Cache shared by the replicas (Redis), in front of
// the source. The minting service warms them when a session names an
// incident, and the widget edge reads them. It is safe for concurrent use
// if its source and shared cache are.
//
// Staleness: a context is at most the TTL old (counted from when it was
// read from the source) on every replica. A replica that takes a context
// from the shared cache keeps it only for what remains of the shared
// entry's life, so the in-process tier adds no staleness; what it saves is
// the round trip to the shared cache on every mint and every widget load.
type Service struct {
	src    Source
	shared Cache // nil: this replica's tier only
	ttl    time.Duration
	local  *ttlcache.Cache[key, tierEntry]
	log    *zap.Logger
}

type key struct{ tenant, id string }

// tierEntry is what the in-process tier holds: an incident, or that the
// source has none.
type tierEntry struct {
	inc      Incident
	notFound bool
}

// NewService returns a Service over src and shared (nil: no shared tier,
// the embedded default), remembering what src returns for ttl
// (DefaultCacheTTL when not positive). Shared-cache failures are logged to
// log at warn level (nil: not logged) and otherwise ignored: the source can
// still answer. now is the in-process tier's clock (nil: time.Now).
func NewService(src Source, shared Cache, ttl time.Duration, log *zap.Logger, now func() time.Time) *Service {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{
		src: src, shared: shared, ttl: ttl,
		local: ttlcache.New[key, tierEntry](DefaultCacheEntries, now),
		log:   log.With(zap.String("component", "incidents")),
	}
}

// Lookup returns the incident id of tenant: from this replica's tier, else
// the shared cache, else the source (and then remembers it in both).
// Concurrent lookups of one incident on a replica share one read. The
// incident returned always has exactly that ID and Tenant: a context is
// only ever served to a session of its own tenant and incident, whatever a
// cache or source holds. Errors are those of Source: ErrNotFound, or one
// wrapping ErrUnavailable (also when ctx ends first).
func (s *Service) Lookup(ctx context.Context, tenant, id string) (Incident, error) {
	inc, err := s.held(ctx, tenant, id)
	if err != nil {
		return Incident{}, err
	}
	return inc.Clone(), nil // the tier's copy is shared: each caller gets its own
}

// held is Lookup without the copy: the incident it returns is the one this
// replica holds, which nobody may change.
func (s *Service) held(ctx context.Context, tenant, id string) (Incident, error) {
	if !lookup.Addressable(tenant) || !lookup.Addressable(id) {
		return Incident{}, ErrNotFound
	}
	e, err := s.local.Do(ctx, key{tenant, id}, func(ctx context.Context) (tierEntry, time.Duration, error) {
		inc, ttl, err := s.load(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			return tierEntry{notFound: true}, min(NotFoundTTL, s.ttl), nil
		}
		return tierEntry{inc: inc}, ttl, err
	})
	switch {
	case err == nil && e.notFound:
		return Incident{}, ErrNotFound
	case err == nil:
		return e.inc, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnavailable):
		return Incident{}, err
	default: // ctx ended while the read was in flight
		return Incident{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// load reads an incident this replica does not hold, and says for how long
// to hold it.
func (s *Service) load(ctx context.Context, tenant, id string) (Incident, time.Duration, error) {
	if s.shared != nil {
		inc, ttl, ok, err := s.shared.Get(ctx, tenant, id)
		switch {
		case err != nil:
			s.log.Warn("incident cache read failed; asking the source", zap.Error(err))
		// A cached context of another tenant or incident is never served;
		// the source decides.
		case ok && inc.ID == id && inc.Tenant == tenant:
			return inc, min(ttl, s.ttl), nil
		}
	}
	inc, err := s.src.Incident(ctx, tenant, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return Incident{}, 0, ErrNotFound
	case err != nil && !errors.Is(err, ErrUnavailable):
		// A source outside this package that forgot the contract: an
		// unknown failure is "cannot tell", never "not found".
		return Incident{}, 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err != nil:
		return Incident{}, 0, err
	case inc.ID != id:
		return Incident{}, 0, fmt.Errorf("%w: the source answered for another incident", ErrUnavailable)
	}
	inc.Tenant = tenant
	if s.shared != nil {
		if err := s.shared.Put(ctx, tenant, id, inc, s.ttl); err != nil {
			s.log.Warn("incident cache write failed", zap.Error(err))
		}
	}
	return inc, s.ttl, nil
}

// Warm is Lookup for the minting service, which only needs to know: nil
// when the incident exists (and it is now cached), ErrNotFound when the
// source says it does not, and an error wrapping ErrUnavailable when it
// cannot tell, in which case the session is still minted and the context
// is loaded on first use. A context already held is not read again: many
// sessions opened on one incident cost one request to the source per TTL,
// and none to the shared cache while this replica holds it.
func (s *Service) Warm(ctx context.Context, tenant, id string) error {
	_, err := s.held(ctx, tenant, id)
	return err
}
