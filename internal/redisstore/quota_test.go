package redisstore_test

import (
	"testing"

	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/quota/quotatest"
	"github.com/causeflow/widget-sessions/internal/redisstore"
	"github.com/causeflow/widget-sessions/pkg/redis/redistest"
)

func TestQuotaContract(t *testing.T) {
	c := client(t, redistest.Start(t))
	quotatest.Run(t, func(*testing.T) quota.Store { return redisstore.NewQuota(c, namespace()) })
}
