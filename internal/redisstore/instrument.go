package redisstore

import (
	"context"
	"errors"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Instrument tells observe of every command client sends: its name
// (lower case; "pipeline" for a pipeline or transaction), how long it
// took, and its error; and makes each a client span of tracer, named
// after the command alone: a command's arguments (keys, tickets, event
// payloads) never go into a span. A nil reply (a missing key) is no error.
func Instrument(client goredis.UniversalClient, tracer trace.Tracer, observe func(command string, d time.Duration, err error)) {
	client.AddHook(commandHook{tracer: tracer, observe: observe})
}

type commandHook struct {
	tracer  trace.Tracer
	observe func(command string, d time.Duration, err error)
}

func (h commandHook) span(ctx context.Context, name string) (context.Context, trace.Span) {
	return h.tracer.Start(ctx, "redis "+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "redis"), attribute.String("db.operation.name", name)))
}

func endCommand(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "redis error")
	}
	span.End()
}

func (commandHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h commandHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		name := strings.ToLower(cmd.Name())
		ctx, span := h.span(ctx, name)
		start := time.Now()
		err := next(ctx, cmd)
		h.observe(name, time.Since(start), replyError(err))
		endCommand(span, replyError(err))
		return err
	}
}

func (h commandHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		ctx, span := h.span(ctx, "pipeline")
		start := time.Now()
		err := next(ctx, cmds)
		h.observe("pipeline", time.Since(start), replyError(err))
		endCommand(span, replyError(err))
		return err
	}
}

func replyError(err error) error {
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}
