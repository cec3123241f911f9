package assistant_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/causeflow/widget-sessions/internal/assistant"
)

func TestDeltas(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"a b c d e f g h i j", []string{"a b c d ", "e f g ", "h i j"}},
		{"  lead a b c d e", []string{"  lead a b c ", "d e"}},
		{"a\n\nb c d\n1. e", []string{"a\n\nb c d\n", "1. e"}},
		{"a b c d e f g h i j k l m n o p q r s", []string{"a b c d ", "e f g ", "h i j k l ", "m n o p q r ", "s"}},
		{"trailing   ", []string{"trailing   "}},
	}
	for _, tc := range cases {
		if got := assistant.Deltas(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Deltas(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestReplyStreams: on every kind of answer, the deltas are 3 to 6 words
// (the last may be fewer), at least 5 of them, and they concatenate to the
// answer; the same request streams the same deltas.
func TestReplyStreams(t *testing.T) {
	a := assistant.NewEmbedded(0)
	for _, q := range []string{"", "what happened", "severity", "services", "timeline", "why", "next steps", "hello"} {
		for _, inc := range []string{"inc_EXAMPLE_01JX", "inc_DB_POOL_02"} {
			req := ask(demoIncident(t, inc), "earlier", q)
			deltas := collect(t, a, req)
			if got, want := strings.Join(deltas, ""), a.Answer(req); got != want {
				t.Fatalf("%s %q: deltas join to\n%s\nwant\n%s", inc, q, got, want)
			}
			if len(deltas) < 5 {
				t.Errorf("%s %q: %d deltas, want at least 5", inc, q, len(deltas))
			}
			for i, d := range deltas {
				n := len(strings.FieldsFunc(d, unicode.IsSpace))
				if n > 6 || (n < 3 && i < len(deltas)-1) {
					t.Errorf("%s %q: delta %d %q has %d words", inc, q, i, d, n)
				}
			}
			if again := collect(t, a, req); !slices.Equal(again, deltas) {
				t.Errorf("%s %q: the same request streamed differently", inc, q)
			}
		}
	}
}

func TestReplyPauses(t *testing.T) {
	const pause = 5 * time.Millisecond
	a := assistant.NewEmbedded(pause)
	req := ask(demoIncident(t, "inc_EXAMPLE_01JX"), "why")
	var times []time.Time
	if err := a.Reply(t.Context(), req, func(string) error { times = append(times, time.Now()); return nil }); err != nil {
		t.Fatal(err)
	}
	if total := times[len(times)-1].Sub(times[0]); total < time.Duration(len(times)-1)*pause {
		t.Errorf("%d deltas over %v, want at least %v between each", len(times), total, pause)
	}
}

func TestReplyCancelled(t *testing.T) {
	req := ask(demoIncident(t, "inc_EXAMPLE_01JX"), "")
	t.Run("during a pause", func(t *testing.T) {
		const pause = time.Second
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		n := 0
		first := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() {
			done <- assistant.NewEmbedded(pause).Reply(ctx, req, func(string) error {
				mu.Lock()
				n++
				mu.Unlock()
				select {
				case first <- struct{}{}:
				default:
				}
				return nil
			})
		}()
		<-first // the first delta is out; the pause has begun
		begin := time.Now()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Reply = %v, want context.Canceled", err)
			}
			if d := time.Since(begin); d > pause/2 {
				t.Errorf("Reply returned %v after the cancel, want promptly", d)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Reply did not return after the cancel")
		}
		mu.Lock()
		defer mu.Unlock()
		if n != 1 {
			t.Errorf("%d deltas emitted, want 1", n)
		}
	})
	t.Run("no pause before the first delta", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err := assistant.NewEmbedded(time.Hour).Reply(ctx, req, func(string) error { n++; cancel(); return nil })
		if !errors.Is(err, context.Canceled) || n != 1 {
			t.Errorf("Reply = %v after %d deltas, want context.Canceled after 1", err, n)
		}
	})
	t.Run("without pauses", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		err := assistant.NewEmbedded(0).Reply(ctx, req, func(string) error {
			if n++; n == 2 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || n != 2 {
			t.Errorf("Reply = %v after %d deltas, want context.Canceled after 2", err, n)
		}
	})
	t.Run("before the first delta", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		n := 0
		err := assistant.NewEmbedded(0).Reply(ctx, req, func(string) error { n++; return nil })
		if !errors.Is(err, context.Canceled) || n != 0 {
			t.Errorf("Reply = %v after %d deltas, want context.Canceled after none", err, n)
		}
	})
}

func TestReplyEmitFails(t *testing.T) {
	errStop := errors.New("stream closed")
	n := 0
	err := assistant.NewEmbedded(0).Reply(t.Context(), ask(demoIncident(t, "inc_DB_POOL_02"), ""), func(string) error {
		if n++; n == 3 {
			return errStop
		}
		return nil
	})
	if err != errStop || n != 3 {
		t.Errorf("Reply = %v after %d emits, want emit's error itself after 3", err, n)
	}
}
