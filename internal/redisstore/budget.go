package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/pkg/redis"
)

// budgetTTL keeps a day's count a day past its end: long enough for any
// replica's clock, short enough that counts never pile up.
const budgetTTL = 48 * time.Hour

// Budget is the budget.Store on Redis: every replica counts into the same
// key per tenant and UTC day,
//
//	<namespace>:budget:<day>:<tenant>
//
// tenant escaped as in IncidentCache, incremented with INCRBY and given
// its expiry in the same transaction.
type Budget struct {
	client goredis.UniversalClient
	ns     string
}

var _ budget.Store = (*Budget)(nil)

// NewBudget returns the budget store over client, its keys under
// namespace (DefaultNamespace when "").
func NewBudget(client goredis.UniversalClient, namespace string) *Budget {
	if namespace == "" {
		namespace = redis.DefaultNamespace
	}
	return &Budget{client: client, ns: namespace}
}

// Key returns the counter of tenant's day of at.
func (b *Budget) Key(tenant string, at time.Time) string {
	return b.ns + ":budget:" + budget.Day(at) + ":" + keyPart(tenant)
}

// Spent returns tenant's count of at's day.
func (b *Budget) Spent(ctx context.Context, tenant string, at time.Time) (int64, error) {
	n, err := b.client.Get(ctx, b.Key(tenant, at)).Int64()
	switch {
	case errors.Is(err, goredis.Nil):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	return n, nil
}

// Spend adds tokens to tenant's count of at's day.
func (b *Budget) Spend(ctx context.Context, tenant string, at time.Time, tokens int64) error {
	key := b.Key(tenant, at)
	_, err := b.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.IncrBy(ctx, key, tokens)
		p.Expire(ctx, key, budgetTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", budget.ErrUnavailable, err)
	}
	return nil
}
