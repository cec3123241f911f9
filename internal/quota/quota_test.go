package quota_test

import (
	"testing"

	"github.com/causeflow/widget-sessions/internal/quota"
	"github.com/causeflow/widget-sessions/internal/quota/quotatest"
)

func TestMemoryContract(t *testing.T) {
	quotatest.Run(t, func(*testing.T) quota.Store { return quota.NewMemory() })
}
