// Command wsload measures widget-sessions under load, against a raw
// baseline measured in the same run, and prints ratios and percentiles.
// It starts everything it measures itself: redis-server, the service's
// replicas (the binary given with -bin, one core each through GOMAXPROCS=1)
// and the baseline, all on loopback.
//
//	wsload streams -bin ./bin/widget-sessions -n 10000
//	wsload hot -bin ./bin/widget-sessions
//
// It is a measurement tool, not a test: it asserts nothing, and `make
// test` never runs it. `make load-streams` does.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: wsload streams [flags] | wsload hot [flags] | wsload bare-held -addr host:port | wsload bare-api -addr host:port")
	}
	switch args[0] {
	case "streams":
		return streams(ctx, args[1:], stdout, stderr)
	case "hot":
		return hot(ctx, args[1:], stdout, stderr)
	case "bare-api":
		return bareAPI(ctx, args[1:])
	case "bare-held":
		return bareHeld(ctx, args[1:])
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
}
