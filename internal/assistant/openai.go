package assistant

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/causeflow/widget-sessions/internal/sse"
)

// Defaults of OpenAIConfig.
const (
	DefaultOpenAITimeout     = 60 * time.Second
	DefaultOpenAIIdleTimeout = 20 * time.Second
)

const (
	// maxLine bounds one line of the event stream, and one event's data. A
	// chunk is a few hundred bytes; a longer line is a misbehaving server.
	maxLine = 1 << 20
	// maxErrorBody bounds how much of a failed answer's body is read.
	maxErrorBody = 4 << 10
	// maxSnippet bounds the upstream's own words quoted in an error.
	maxSnippet = 200
)

// Errors of OpenAI, for errors.Is. Every failure of the upstream (a status
// other than 200, an error chunk, a malformed chunk, a transport error, a
// timeout) wraps ErrUpstream; the others below say more, and are always
// wrapped by ErrUpstream, hence their text has no package prefix.
var (
	ErrUpstream = errors.New("assistant: upstream failed")
	// ErrTimeout means the whole reply took longer than
	// OpenAIConfig.Timeout.
	ErrTimeout = errors.New("reply timed out")
	// ErrIdleTimeout means the upstream sent nothing for
	// OpenAIConfig.IdleTimeout.
	ErrIdleTimeout = errors.New("stream idle too long")
	// ErrTruncated means the stream ended without "data: [DONE]".
	ErrTruncated = errors.New("stream ended before [DONE]")
)

// OpenAIConfig configures an OpenAI adapter. Zero durations take the
// defaults.
type OpenAIConfig struct {
	// URL is the base of the API, such as https://api.example.com/v1:
	// replies are POSTed to {URL}/chat/completions.
	URL string
	// Model names the model, as the server knows it.
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>". It is
	// a secret: it never appears in an error or a log, even when the
	// server quotes it back.
	APIKey string
	// Timeout bounds a whole reply (default DefaultOpenAITimeout).
	Timeout time.Duration
	// IdleTimeout bounds the wait for the response's headers and then for
	// each line of the stream (default DefaultOpenAIIdleTimeout).
	IdleTimeout time.Duration
	// Client sends the requests; nil means a client on
	// http.DefaultTransport. It is copied, and the copy does not follow
	// redirects: a redirected POST would carry the conversation, and
	// perhaps the key, somewhere nobody configured.
	Client *http.Client
	// MaxTokens bounds the answer ("max_tokens"), so that no question
	// costs more than that. Default DefaultMaxTokens.
	MaxTokens int
	// MaxHistoryBytes and MaxHistoryTurns bound the conversation sent with
	// a question (its content bytes and its messages, the question
	// included); the oldest turns are dropped first. Defaults
	// DefaultMaxHistoryBytes and DefaultMaxHistoryTurns.
	MaxHistoryBytes int
	MaxHistoryTurns int
	// OnUsage, when set, is told the tokens of each reply, as the server
	// counts them: the adapter asks for them (stream_options.include_usage)
	// and reads the chunk that carries them. Servers that send none are
	// simply not counted.
	OnUsage func(promptTokens, completionTokens int)
}

// Defaults of an upstream request's budget.
const (
	DefaultMaxTokens       = 1024
	DefaultMaxHistoryBytes = 24 << 10
	DefaultMaxHistoryTurns = 20
)

// OpenAI is the Assistant of an OpenAI-compatible chat completions server,
// streamed (server-sent events of "chat.completion.chunk" objects, ended
// by "data: [DONE]"). The incident context goes into the system prompt,
// the conversation into the messages. It is safe for concurrent use.
type OpenAI struct {
	endpoint  string
	model     string
	apiKey    string
	timeout   time.Duration
	idle      time.Duration
	client    *http.Client
	maxTokens int
	histBytes int
	histTurns int
	onUsage   func(promptTokens, completionTokens int)
}

// NewOpenAI returns the adapter cfg describes: URL must be an http:// or
// https:// URL with a host and neither query nor fragment, and Model must
// not be empty.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	// Errors name the URL redacted: it may carry a password.
	case err != nil:
		return nil, errors.New("assistant: URL is not a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("assistant: URL %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("assistant: URL %q: no host", u.Redacted())
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("assistant: URL %q: must have no query or fragment", u.Redacted())
	case strings.TrimSpace(cfg.Model) == "":
		return nil, errors.New("assistant: model is required")
	case cfg.Timeout < 0 || cfg.IdleTimeout < 0:
		return nil, errors.New("assistant: timeouts must not be negative")
	case cfg.MaxTokens < 0 || cfg.MaxHistoryBytes < 0 || cfg.MaxHistoryTurns < 0:
		return nil, errors.New("assistant: max tokens and history bounds must not be negative")
	case strings.ContainsFunc(cfg.APIKey, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// net/http would refuse the header on every request; say so now,
		// without echoing the secret.
		return nil, errors.New("assistant: API key contains control characters")
	}
	client := &http.Client{}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &OpenAI{
		endpoint:  strings.TrimSuffix(u.String(), "/") + "/chat/completions",
		model:     cfg.Model,
		apiKey:    cfg.APIKey,
		timeout:   cmp.Or(cfg.Timeout, DefaultOpenAITimeout),
		idle:      cmp.Or(cfg.IdleTimeout, DefaultOpenAIIdleTimeout),
		client:    client,
		maxTokens: cmp.Or(cfg.MaxTokens, DefaultMaxTokens),
		histBytes: cmp.Or(cfg.MaxHistoryBytes, DefaultMaxHistoryBytes),
		histTurns: cmp.Or(cfg.MaxHistoryTurns, DefaultMaxHistoryTurns),
		onUsage:   cfg.OnUsage,
	}, nil
}

// chatMessage and chatRequest are the request body of the protocol.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model         string        `json:"model"`
	Stream        bool          `json:"stream"`
	StreamOptions streamOptions `json:"stream_options"`
	Messages      []chatMessage `json:"messages"`
	MaxTokens     int           `json:"max_tokens"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatChunk is the part of a "chat.completion.chunk" the adapter reads. An
// error, where servers put one, is an object or a plain string.
type chatChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
	} `json:"choices"`
	Error json.RawMessage `json:"error"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// emitError carries emit's error through the stream, so Reply can return
// it unchanged.
type emitError struct{ err error }

func (e emitError) Error() string { return e.err.Error() }

// Reply asks the server for the answer to req and emits its content deltas
// as they arrive. Leaving early (ctx ends, emit fails, the upstream fails
// or times out) cancels the upstream request; nothing it starts outlives
// it.
func (o *OpenAI) Reply(ctx context.Context, req Request, emit func(delta string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := o.requestBody(req)
	if err != nil {
		return err
	}
	tctx, cancelTimeout := context.WithTimeoutCause(ctx, o.timeout, ErrTimeout)
	defer cancelTimeout()
	rctx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	// The idle timer cancels the request; stream stops it while emit
	// runs, so a slow consumer is not taken for a silent server.
	idle := time.AfterFunc(o.idle, func() { cancel(ErrIdleTimeout) })
	defer idle.Stop()

	err = o.stream(rctx, body, idle, req.Usage, emit)
	var ee emitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return ee.err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	if cause := context.Cause(rctx); errors.Is(cause, ErrTimeout) || errors.Is(cause, ErrIdleTimeout) {
		return fmt.Errorf("%w: %w", ErrUpstream, cause)
	}
	return fmt.Errorf("%w: %w", ErrUpstream, err)
}

// stream sends the request and relays the answer. Its errors are the
// upstream's, an emitError, or whatever ending ctx caused; Reply sorts them.
func (o *OpenAI) stream(ctx context.Context, body []byte, idle *time.Timer, usage func(prompt, completion int), emit func(string) error) error {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, o.endpoint, bytes.NewReader(body))
	if err != nil {
		return errors.New("cannot build the request")
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if o.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+o.apiKey)
	}
	resp, err := o.client.Do(hreq)
	if err != nil {
		// A *url.Error names the URL, which may hold a password: keep only
		// its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s request failed: %w", ue.Op, ue.Err)
		}
		return err
	}
	// Not drained: after [DONE] a server may hold the response open, and
	// a drain would wait for it.
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if msg := o.upstreamMessage(b); msg != "" {
			return fmt.Errorf("status %s: %s", resp.Status, msg)
		}
		return fmt.Errorf("status %s", resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		return errors.New("the server answered application/json, not an event stream: does it support stream:true?")
	}
	idle.Reset(o.idle)

	rd := sse.NewReader(resp.Body, maxLine)
	for {
		ev, err := rd.Next()
		idle.Reset(o.idle) // a line, even a keep-alive comment, is a sign of life
		switch {
		case errors.Is(err, io.EOF):
			return ErrTruncated
		case errors.Is(err, sse.ErrTooLong):
			return err
		case err != nil:
			return fmt.Errorf("reading the stream: %w", err)
		case !ev.HasData:
			continue // a comment, or fields the protocol does not use
		}
		if string(ev.Data) == "[DONE]" {
			return nil
		}
		var c chatChunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return errors.New("malformed chunk: not a JSON object of the expected shape")
		}
		if len(c.Error) > 0 && string(c.Error) != "null" {
			if msg := o.upstreamMessage(ev.Data); msg != "" {
				return fmt.Errorf("error in the stream: %s", msg)
			}
			return errors.New("error in the stream")
		}
		if c.Usage != nil {
			if o.onUsage != nil {
				o.onUsage(c.Usage.PromptTokens, c.Usage.CompletionTokens)
			}
			if usage != nil {
				usage(c.Usage.PromptTokens, c.Usage.CompletionTokens)
			}
		}
		if len(c.Choices) == 0 || c.Choices[0].Delta.Content == "" {
			continue // a role-only, usage or keep-alive chunk
		}
		if err := ctx.Err(); err != nil {
			return err // emit no more once ctx has ended
		}
		idle.Stop()
		if err := emit(c.Choices[0].Delta.Content); err != nil {
			return emitError{err}
		}
		idle.Reset(o.idle)
	}
}

// upstreamMessage returns the server's own words in body, short and
// sanitized for an error: the message of a JSON error object (or error
// string), else the start of the body; never the API key, which some
// servers quote back.
func (o *OpenAI) upstreamMessage(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	msg := string(body)
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(e.Error, &obj) == nil && obj.Message != "":
			msg = obj.Message
		case json.Unmarshal(e.Error, &s) == nil && s != "":
			msg = s
		}
	}
	if o.apiKey != "" {
		msg = strings.ReplaceAll(msg, o.apiKey, "[redacted]")
	}
	msg = strings.ToValidUTF8(msg, "?")
	msg = strings.Join(strings.FieldsFunc(msg, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if len(msg) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// requestBody is the request for req: the system prompt, the incident
// context, then as much of the history as the budget allows.
func (o *OpenAI) requestBody(req Request) ([]byte, error) {
	history := trimHistory(req.History, o.histBytes, o.histTurns)
	msgs := make([]chatMessage, 0, len(history)+3)
	msgs = append(msgs,
		chatMessage{Role: "system", Content: SystemPrompt},
		chatMessage{Role: "system", Content: ContextMessage(req.Incident)})
	if req.Locale != "" {
		msgs = append(msgs, chatMessage{Role: "system", Content: LocaleMessage(req.Locale)})
	}
	for i, m := range history {
		switch m.Role {
		case RoleUser, RoleAssistant:
			msgs = append(msgs, chatMessage(m))
		default:
			return nil, fmt.Errorf("assistant: message %d has unknown role %q", i, m.Role)
		}
	}
	return json.Marshal(chatRequest{Model: o.model, Stream: true, StreamOptions: streamOptions{IncludeUsage: true}, Messages: msgs, MaxTokens: o.maxTokens})
}
