// Package assistant is the widget's assistant: given the session's incident
// context and the conversation so far, it streams an answer to the user's
// latest message, delta by delta.
//
// Assistant is the interface the conversation calls. Embedded, the default,
// answers deterministically from the incident context, without any model:
// demos and tests see real streaming and always the same answer. An adapter
// for an OpenAI-compatible streaming chat endpoint is another
// implementation of the same interface.
package assistant

import (
	"context"

	"github.com/causeflow/widget-sessions/internal/incident"
)

// Roles of a Message.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of the conversation.
type Message struct {
	Role    string // RoleUser or RoleAssistant
	Content string
}

// Request is what the assistant answers.
type Request struct {
	// Incident is the session's incident context, nil when the session
	// names no incident or its context cannot be loaded.
	Incident *incident.Incident
	// History is the conversation, oldest first; the last message is the
	// user's new one.
	History []Message
	// Locale is the user's language, a BCP 47 tag from the widget ("" when
	// it did not say): the assistant answers in it.
	Locale string
	// Usage, when set, is told the reply's tokens as the server counts
	// them, for the tenant's budget. An assistant that cannot tell (the
	// embedded one) never calls it.
	Usage func(promptTokens, completionTokens int)
}

// Assistant answers a request.
type Assistant interface {
	// Reply streams the answer to req by calling emit with each delta, in
	// order; the deltas concatenated are the answer. It returns ctx.Err()
	// when ctx ends first, and emit's error, unchanged, when emit fails;
	// in both cases it calls emit no more.
	Reply(ctx context.Context, req Request, emit func(delta string) error) error
}
