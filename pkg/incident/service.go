package incident

import (
	"github.com/causeflow/widget-sessions/pkg/lookup"

	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// DefaultCacheTTL is how long Service remembers a context when given no
// TTL: an incident's status and timeline move, so a widget may show a
// context up to this old.
const DefaultCacheTTL = 5 * time.Minute

// Service looks incidents up through a cache: the minting service warms it
// when a session names an incident, and the widget edge reads it, falling
// back to the source. It is safe for concurrent use if its source and cache
// are.
type Service struct {
	src   Source
	cache Cache
	ttl   time.Duration
	log   *zap.Logger
}

// NewService returns a Service over src and cache, remembering what src
// returns for ttl (DefaultCacheTTL when not positive). Cache failures are
// logged to log at warn level (nil: not logged) and otherwise ignored: the
// source can still answer.
func NewService(src Source, cache Cache, ttl time.Duration, log *zap.Logger) *Service {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{src: src, cache: cache, ttl: ttl, log: log.With(zap.String("component", "incidents"))}
}

// Lookup returns the incident id of tenant: from the cache when it holds
// it, else from the source, and then remembers it. The incident returned
// always has exactly that ID and Tenant: a context is only ever served to a
// session of its own tenant and incident, whatever a cache or source holds.
// Errors are those of Source: ErrNotFound, or one wrapping ErrUnavailable.
func (s *Service) Lookup(ctx context.Context, tenant, id string) (Incident, error) {
	if !lookup.Addressable(tenant) || !lookup.Addressable(id) {
		return Incident{}, ErrNotFound
	}
	inc, ok, err := s.cache.Get(ctx, tenant, id)
	switch {
	case err != nil:
		s.log.Warn("incident cache read failed; asking the source", zap.Error(err))
	// A cached context of another tenant or incident is never served;
	// the source decides.
	case ok && inc.ID == id && inc.Tenant == tenant:
		return inc, nil
	}
	inc, err = s.src.Incident(ctx, tenant, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return Incident{}, ErrNotFound
	case err != nil && !errors.Is(err, ErrUnavailable):
		// A source outside this package that forgot the contract: an
		// unknown failure is "cannot tell", never "not found".
		return Incident{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err != nil:
		return Incident{}, err
	case inc.ID != id:
		return Incident{}, fmt.Errorf("%w: the source answered for another incident", ErrUnavailable)
	}
	inc.Tenant = tenant
	if err := s.cache.Put(ctx, tenant, id, inc, s.ttl); err != nil {
		s.log.Warn("incident cache write failed", zap.Error(err))
	}
	return inc, nil
}

// Warm is Lookup for the minting service, which only needs to know: nil
// when the incident exists (and it is now cached), ErrNotFound when the
// source says it does not, and an error wrapping ErrUnavailable when it
// cannot tell, in which case the session is still minted and the context
// is loaded on first use. A context already cached is not fetched again:
// many sessions opened on one incident cost one request per TTL.
func (s *Service) Warm(ctx context.Context, tenant, id string) error {
	_, err := s.Lookup(ctx, tenant, id)
	return err
}
