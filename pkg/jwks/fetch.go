package jwks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// source is where a set comes from: exactly one of url and path is set.
type source struct {
	url  *url.URL
	path string
}

func (s source) String() string {
	if s.url != nil {
		return s.url.Redacted() // a URL may carry credentials; logs must not
	}
	return s.path
}

func parseSource(raw string, allowHTTP bool) (source, error) {
	if raw == "" {
		return source{}, fmt.Errorf("%w: empty", ErrInvalidSource)
	}
	scheme, _, hasScheme := strings.Cut(raw, "://")
	if !hasScheme {
		return source{path: raw}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return source{}, fmt.Errorf("%w: %v", ErrInvalidSource, err)
	}
	switch strings.ToLower(scheme) {
	case "https":
	case "http":
		if !allowHTTP {
			return source{}, fmt.Errorf("%w: http:// needs AllowInsecureHTTP; use https", ErrInvalidSource)
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return source{}, fmt.Errorf("%w: file URL with a remote host", ErrInvalidSource)
		}
		if u.Path == "" {
			return source{}, fmt.Errorf("%w: file URL without a path", ErrInvalidSource)
		}
		return source{path: u.Path}, nil
	default:
		return source{}, fmt.Errorf("%w: unsupported scheme %q", ErrInvalidSource, scheme)
	}
	if u.Host == "" {
		return source{}, fmt.Errorf("%w: URL without a host", ErrInvalidSource)
	}
	return source{url: u}, nil
}

// fetch reads and parses the set, returning its usable public keys by kid.
func (c *Cache) fetch(ctx context.Context) (map[string]*Key, error) {
	var body []byte
	var err error
	if c.src.url != nil {
		body, err = c.fetchURL(ctx)
	} else {
		body, err = c.readFile()
	}
	if err != nil {
		return nil, err
	}
	keys, err := publicKeys(body, c.src.url != nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSet, c.src, err)
	}
	return keys, nil
}

func (c *Cache) fetchURL(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.src.url.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFetch, c.src, err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		// *url.Error repeats the URL unredacted; keep only its cause.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrFetch, c.src, err)
	}
	defer resp.Body.Close()
	// A redirect must not downgrade to plain HTTP, whatever the client's
	// redirect policy: the keys would then travel unauthenticated.
	if resp.Request != nil && resp.Request.URL.Scheme != "https" && !c.opts.AllowInsecureHTTP {
		return nil, fmt.Errorf("%w: %s: redirected to a non-https URL", ErrFetch, c.src)
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.opts.MaxBodyBytes)) // lets the connection be reused
		return nil, fmt.Errorf("%w: %s: status %d", ErrFetch, c.src, resp.StatusCode)
	}
	return c.readLimited(resp.Body)
}

func (c *Cache) readFile() ([]byte, error) {
	f, err := os.Open(c.src.path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFetch, err)
	}
	defer f.Close()
	return c.readLimited(f)
}

func (c *Cache) readLimited(r io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, c.opts.MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFetch, c.src, err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return nil, fmt.Errorf("%w: %s: larger than %d bytes", ErrFetch, c.src, c.opts.MaxBodyBytes)
	}
	return body, nil
}

// publicKeys parses a set into its usable public keys by kid (see Parse).
//
// Private material (an asymmetric private key, or any symmetric key) is
// refused outright when the set came from a URL: a provider that publishes
// its private keys has lost them, and tokens "signed" with them prove
// nothing. From a local file, which the operator controls (the development
// identity provider's own private set, for one), private keys are reduced
// to their public halves and symmetric keys dropped.
func publicKeys(body []byte, remote bool) (map[string]*Key, error) {
	list, err := parse(body, remote)
	if err != nil {
		return nil, err
	}
	keys := make(map[string]*Key, len(list))
	for _, k := range list {
		keys[k.ID] = k
	}
	return keys, nil
}
