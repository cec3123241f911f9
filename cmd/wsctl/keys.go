package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// keysGenerate adds a new private key to a JWK Set file. It prints the new
// kid, never the key.
func keysGenerate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "JWK Set file to create or add to (required)")
	alg := fs.String("alg", token.AlgEdDSA, "key algorithm: EdDSA or ES256")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("keys generate: --out is required")
	}
	kid, err := keys.AppendToFile(*out, *alg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", kid)
	fmt.Fprintf(stderr, "added %s key %s to %s; make it active with WIDGET_SIGNING_KID=%s once validators have fetched the new JWKS\n", *alg, kid, *out, kid)
	return nil
}
