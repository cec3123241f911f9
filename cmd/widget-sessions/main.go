// Command widget-sessions serves the widget session API: it mints session
// tokens for callers authenticated by the identity provider and publishes
// the keys that verify them. Configuration is read from the environment;
// `widget-sessions -config-table` prints every setting.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "widget-sessions:", err)
		os.Exit(1)
	}
}
