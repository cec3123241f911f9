package events_test

import (
	"testing"

	"github.com/causeflow/widget-sessions/internal/events"
)

func TestWaiters(t *testing.T) {
	var w events.Waiters
	add := func(sid string) (<-chan struct{}, func()) {
		ch := make(chan struct{}, 1)
		return ch, w.Add(sid, func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
	}
	a1, cancelA1 := add("a")
	a2, cancelA2 := add("a")
	b, cancelB := add("b")
	defer cancelA2()
	defer cancelB()
	pending := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name       string
		do         func()
		a1, a2, bb bool // pending afterwards
	}{
		{"nothing yet", func() {}, false, false, false},
		{"wake a twice", func() { w.Wake("a"); w.Wake("a") }, true, true, false},
		{"wake an unknown session", func() { w.Wake("c") }, false, false, false},
		{"wake all", w.WakeAll, true, true, true},
		{"cancel a1, wake a", func() { cancelA1(); cancelA1(); w.Wake("a") }, false, true, false},
	}
	for _, st := range steps {
		st.do()
		if got := [3]bool{pending(a1), pending(a2), pending(b)}; got != [3]bool{st.a1, st.a2, st.bb} {
			t.Fatalf("%s: pending a1, a2, b = %v; want %v", st.name, got, [3]bool{st.a1, st.a2, st.bb})
		}
	}
	if n := w.Len(); n != 2 {
		t.Fatalf("Len = %d; want 2", n)
	}
}
