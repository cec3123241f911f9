package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/causeflow/widget-sessions/pkg/client"
)

// revokeCmd revokes a session, every session of a user, or every session of
// a tenant on a running server. The caller JWT comes from --token-file or
// WSCTL_TOKEN, never from a flag: a flag would show in ps and shell history.
func revokeCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 || strings.HasPrefix(args[1], "-") { // "revoke session --server U": a flag is not an id
		return errors.New("usage: wsctl revoke session SESSION_ID | user USER_ID | tenant TENANT_ID [--server URL] [--tenant T] [--token-file F]")
	}
	kind, target := args[0], args[1]
	if kind != "session" && kind != "user" && kind != "tenant" {
		return fmt.Errorf("revoke: unknown kind %q (session, user or tenant)", kind)
	}
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "base URL of the widget-sessions API")
	tenant := fs.String("tenant", "", "act in this tenant (ops role; session and user only)")
	tokenFile := fs.String("token-file", "", "file holding the caller JWT (default: $WSCTL_TOKEN)")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if fs.NArg() > 0 { // a stray argument would stop flag parsing: --server after it would be ignored
		return fmt.Errorf("revoke: unexpected argument %q", fs.Arg(0))
	}
	if kind == "tenant" && *tenant != "" {
		return errors.New("revoke tenant: the tenant is the argument; --tenant does not apply")
	}
	caller, err := callerToken(*tokenFile, getenv)
	if err != nil {
		return err
	}
	c, err := client.New(*server, client.StaticToken(caller), client.WithHTTPClient(newHTTPClient()))
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var opts []client.RevokeOption
	if *tenant != "" {
		opts = append(opts, client.InTenant(*tenant))
	}
	switch kind {
	case "session":
		err = c.RevokeSession(ctx, target, opts...)
	case "user":
		err = c.RevokeUser(ctx, target, opts...)
	case "tenant":
		err = c.RevokeTenant(ctx, target)
	}
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	fmt.Fprintf(stdout, "revoked %s %s\n", kind, target)
	return nil
}

// callerToken reads the caller JWT from file, or from WSCTL_TOKEN.
func callerToken(file string, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := readFileLimited(file)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t := strings.TrimSpace(getenv("WSCTL_TOKEN")); t != "" {
		return t, nil
	}
	return "", errors.New("no caller token: set WSCTL_TOKEN or pass --token-file (e.g. from `wsctl dev-token --role admin`)")
}
