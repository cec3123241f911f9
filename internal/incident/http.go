package incident

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/causeflow/widget-sessions/internal/lookup"
)

// DefaultTimeout bounds a request of the HTTP source when HTTPOptions names
// no timeout.
const DefaultTimeout = 2 * time.Second

// MaxBody bounds the body of an incident the HTTP source reads. An incident
// is a few KiB; a larger answer is a misbehaving source, not a context to
// hand to the assistant.
const MaxBody = 256 << 10

// HTTPOptions configures an HTTP source (client, bearer token, timeout;
// DefaultTimeout when zero). See lookup.Options.
type HTTPOptions = lookup.Options

// HTTP is an incident source reached over HTTP, the production adapter. It
// asks GET {base}/tenants/{tenantId}/incidents/{incidentId}: 200 carries the
// incident, 404 means ErrNotFound, and anything else (another status, a
// body that is not a valid incident of that tenant and id, a timeout, a
// transport error) an error wrapping ErrUnavailable. It remembers nothing:
// Service caches. It is safe for concurrent use.
type HTTP struct {
	client *lookup.Client
}

// NewHTTP returns an HTTP source at base, an http:// or https:// URL with a
// host and neither query nor fragment.
func NewHTTP(base string, opts HTTPOptions) (*HTTP, error) {
	c, err := lookup.New("incident", base, opts, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return &HTTP{client: c}, nil
}

// Incident asks the source for the incident id of tenant. Ids that cannot
// name an incident ("", ".", "..") get ErrNotFound without a request.
func (h *HTTP) Incident(ctx context.Context, tenant, id string) (Incident, error) {
	if !lookup.Addressable(tenant) || !lookup.Addressable(id) {
		return Incident{}, ErrNotFound
	}
	if err := ctx.Err(); err != nil {
		return Incident{}, unavailable(err)
	}
	status, body, err := h.client.Get(ctx, MaxBody, "tenants", tenant, "incidents", id)
	switch {
	case err != nil:
		return Incident{}, unavailable(err)
	case status == http.StatusNotFound:
		return Incident{}, ErrNotFound
	case status != http.StatusOK:
		return Incident{}, unavailable(fmt.Errorf("unexpected status %d", status))
	}
	inc, gotTenant, err := decodeIncident(body, true)
	switch {
	case err != nil:
		return Incident{}, unavailable(fmt.Errorf("invalid incident: %w", err))
	// An answer about another incident is a misrouted or confused source:
	// serving it would show one tenant's incident to another.
	case inc.ID != id || (gotTenant != "" && gotTenant != tenant):
		return Incident{}, unavailable(errors.New("the source answered for another incident or tenant"))
	}
	inc.Tenant = tenant
	return inc, nil
}

func unavailable(cause error) error {
	return fmt.Errorf("%w: %w", ErrUnavailable, cause)
}
