package assistant

import (
	"context"
	"strings"
	"time"
	"unicode"
)

// DefaultPause is the pause between two deltas of Embedded in production:
// about the pace of a language model, so the widget's streaming shows.
const DefaultPause = 30 * time.Millisecond

// chunkSizes are the numbers of words of successive deltas, cycled: varied
// like a model's tokens, and fixed, so the same answer always streams in
// the same deltas.
var chunkSizes = [...]int{4, 3, 5, 6}

// Embedded is the default assistant: it answers from the incident context
// alone (what happened, severity, status, services, timeline, suspected
// cause, next steps), picking what to say from the words of the user's
// question, and streams the answer in deltas of a few words with a pause
// between them. The same request always gets the same deltas. It is safe
// for concurrent use.
type Embedded struct {
	pause time.Duration
}

// NewEmbedded returns the embedded assistant, pausing pause between two
// deltas (DefaultPause in production, 0 in tests; a negative pause is 0).
func NewEmbedded(pause time.Duration) *Embedded {
	return &Embedded{pause: max(pause, 0)}
}

// Reply streams Answer(req) in the deltas Deltas returns, pausing between
// them. It stops as soon as ctx ends (returning ctx.Err()) or emit fails
// (returning its error).
func (e *Embedded) Reply(ctx context.Context, req Request, emit func(delta string) error) error {
	var timer *time.Timer
	for i, d := range Deltas(e.Answer(req)) {
		if i > 0 && e.pause > 0 {
			if timer == nil {
				timer = time.NewTimer(e.pause)
				defer timer.Stop()
			} else {
				timer.Reset(e.pause)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(d); err != nil {
			return err
		}
	}
	return nil
}

// Deltas splits answer into the deltas Embedded streams: a few words each
// (see chunkSizes), every word keeping the whitespace after it, so the
// deltas concatenated are exactly answer.
func Deltas(answer string) []string {
	var deltas []string
	start, words, size := 0, 0, 0
	inSpace, seenWord := false, false // leading whitespace belongs to the first word
	for i, r := range answer {
		space := unicode.IsSpace(r)
		if !space && inSpace && seenWord {
			// A word starts at i: the previous one, with its trailing
			// whitespace, is complete.
			words++
			if words == chunkSizes[size%len(chunkSizes)] {
				deltas = append(deltas, answer[start:i])
				start, words = i, 0
				size++
			}
		}
		inSpace, seenWord = space, seenWord || !space
	}
	if start < len(answer) {
		deltas = append(deltas, answer[start:])
	}
	return deltas
}

// lastQuestion returns the user's new message and how many questions the
// user asked before it.
func lastQuestion(history []Message) (question string, earlier int) {
	if n := len(history); n > 0 && history[n-1].Role == RoleUser {
		question, history = history[n-1].Content, history[:n-1]
	}
	for _, m := range history {
		if m.Role == RoleUser {
			earlier++
		}
	}
	return question, earlier
}

// words returns the lower-cased words of s: runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}
