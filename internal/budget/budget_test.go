package budget_test

import (
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/budget"
	"github.com/causeflow/widget-sessions/internal/budget/budgettest"
)

func TestMemoryContract(t *testing.T) {
	budgettest.Run(t, func(*testing.T) budget.Store { return budget.NewMemory() })
}

func TestUntilTomorrow(t *testing.T) {
	for _, tt := range []struct {
		at   time.Time
		want time.Duration
	}{
		{time.Date(2026, 12, 6, 23, 59, 30, 0, time.UTC), 30 * time.Second},
		{time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), 24 * time.Hour},
		// 20:00 at UTC-5 is 01:00 UTC on the 7th: the UTC day counts.
		{time.Date(2026, 12, 6, 20, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), 23 * time.Hour},
	} {
		if got := budget.UntilTomorrow(tt.at); got != tt.want {
			t.Errorf("UntilTomorrow(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}
