package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// inspectCmd prints a session token's environment, header and claims and,
// given a JWKS, whether its signature holds. It does not judge iss, aud or
// revocation: that is the verifier's job; this is a debugging aid.
func inspectCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jwksURL := fs.String("jwks", "", "JWKS URL (or file) to check the signature against")
	// Go's flag package stops at the first non-flag; accept TOKEN before or after --jwks.
	var tokArg string
	if len(args) > 0 && (args[0] == "-" || !strings.HasPrefix(args[0], "-")) { // "-" is stdin, not a flag
		tokArg, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if tokArg == "" && len(rest) > 0 {
		tokArg, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 { // a stray argument stops flag parsing: --jwks after it would be ignored
		return fmt.Errorf("inspect: unexpected argument %q", rest[0])
	}
	if tokArg == "" {
		return errors.New("usage: wsctl inspect TOKEN|- [--jwks URL]")
	}
	if tokArg == "-" { // read from stdin: keeps the token out of ps and history
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			return err
		}
		tokArg = strings.TrimSpace(string(b))
	}
	env, compact := "", tokArg
	for _, e := range []string{"live", "test"} {
		if rest, ok := strings.CutPrefix(tokArg, "wst_"+e+"_"); ok {
			env, compact = e, rest
		}
	}
	parts := strings.Split(compact, ".")
	if len(parts) != 3 {
		return errors.New("inspect: not a compact JWS (want three dot-separated parts)")
	}
	header, err := decodeSegment(parts[0])
	if err != nil {
		return fmt.Errorf("inspect: header: %w", err)
	}
	claims, err := decodeSegment(parts[1])
	if err != nil {
		return fmt.Errorf("inspect: claims: %w", err)
	}
	if env == "" {
		env = "(none: not a session token prefix)"
	}
	fmt.Fprintf(stdout, "environment: %s\nheader:\n%s\nclaims:\n%s\n", env, header, claims)
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(claims, &c) == nil && c.Exp > 0 {
		exp := time.Unix(c.Exp, 0).UTC()
		if d := time.Until(exp); d > 0 {
			fmt.Fprintf(stdout, "expires: %s (in %s)\n", exp.Format(time.RFC3339), d.Round(time.Second))
		} else {
			fmt.Fprintf(stdout, "expires: %s (expired %s ago)\n", exp.Format(time.RFC3339), (-d).Round(time.Second))
		}
	}
	if *jwksURL == "" {
		return nil
	}
	set, err := fetchJWKS(ctx, *jwksURL)
	if err != nil {
		return err
	}
	if _, err := jws.Verify([]byte(compact), jws.WithKeySet(set, jws.WithRequireKid(true))); err != nil {
		fmt.Fprintln(stdout, "signature: INVALID against", *jwksURL)
		return errors.New("inspect: the signature does not verify")
	}
	fmt.Fprintln(stdout, "signature: valid against", *jwksURL)
	return nil
}

// decodeSegment base64url-decodes a JWS segment and indents its JSON.
func decodeSegment(seg string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "  ", "  "); err != nil {
		return nil, errors.New("not JSON")
	}
	return append([]byte("  "), out.Bytes()...), nil
}

// fetchJWKS reads a JWK Set from an http(s) URL or a file.
func fetchJWKS(ctx context.Context, src string) (jwk.Set, error) {
	var body []byte
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := newHTTPClient().Do(req)
		if err != nil {
			return nil, fmt.Errorf("inspect: fetch JWKS: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("inspect: fetch JWKS: %s", resp.Status)
		}
		if body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
			return nil, err
		}
	} else {
		b, err := readFileLimited(src)
		if err != nil {
			return nil, err
		}
		body = b
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("inspect: JWKS: %w", err)
	}
	return set, nil
}

// readFileLimited reads a small file (a token, a JWKS).
func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}
