// Command wsctl is the operator's tool for widget-sessions: it generates
// signing keys, revokes sessions on a running server, inspects session
// tokens and, on the embedded default, mints development caller tokens.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "wsctl:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: wsctl <command> [flags]

commands:
  keys generate --out FILE [--alg EdDSA|ES256]
        add a new private signing key to a JWK Set file (created if missing)
  dev-token --tenant T --user U --role R [--role R2] [--ttl 1h] [--key FILE]
        print a caller JWT signed by the development identity provider
        (accepted only by a server running without WIDGET_CALLER_JWKS);
        roles admin/member mint, admin revokes, ops acts on any tenant,
        service introspects
  revoke session SESSION_ID | user USER_ID | tenant TENANT_ID
         [--server http://127.0.0.1:8080] [--tenant T] [--token-file F]
        revoke on a running server; the caller JWT comes from --token-file
        or $WSCTL_TOKEN (never a flag: flags show in ps)
  inspect TOKEN|- [--jwks URL|FILE]
        print a session token's header and claims, and with --jwks whether
        its signature holds ("-" reads the token from stdin)
`

// run dispatches a wsctl command.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "keys":
		if len(rest) == 0 || rest[0] != "generate" {
			fmt.Fprint(stderr, usage)
			return errors.New("usage: wsctl keys generate --out FILE")
		}
		return keysGenerate(rest[1:], stdout, stderr)
	case "dev-token":
		return devToken(rest, getenv, stdout, stderr)
	case "revoke":
		return revokeCmd(ctx, rest, getenv, stdout, stderr)
	case "inspect":
		return inspectCmd(ctx, rest, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// newHTTPClient returns a client with a transport of its own: the shared
// http.DefaultTransport can have its connections closed under it by
// anything else in the process, and a CLI has no reason to share it.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second}
}
