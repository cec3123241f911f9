package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/causeflow/widget-sessions/internal/devidp"
)

// devToken prints a caller JWT from the development identity provider. It
// reads the same key file as a server started without WIDGET_CALLER_JWKS
// (WIDGET_DEV_IDP_KEY, default .dev/dev-idp.jwks.json), creating it if the
// server has not yet.
func devToken(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tenant := fs.String("tenant", "", "tenant id (required)")
	user := fs.String("user", "", "subject of the caller token (required)")
	var roles stringList
	fs.Var(&roles, "role", "role to grant; repeat for several (any string, e.g. viewer to see a 403)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the caller token")
	keyFile := fs.String("key", "", "dev identity provider key file (default $WIDGET_DEV_IDP_KEY or "+devidp.DefaultKeyFile+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenant == "" || *user == "" {
		return errors.New("dev-token: --tenant and --user are required")
	}
	if getenv("WIDGET_ENV") == "live" {
		return errors.New("dev-token: the development identity provider cannot be used with WIDGET_ENV=live")
	}
	path := *keyFile
	if path == "" {
		path = getenv("WIDGET_DEV_IDP_KEY")
	}
	if path == "" {
		path = devidp.DefaultKeyFile
	}
	idp, err := devidp.LoadOrCreate(path)
	if err != nil {
		return err
	}
	tok, err := idp.Token(devidp.TokenRequest{Tenant: *tenant, Subject: *user, Roles: roles, TTL: *ttl})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
