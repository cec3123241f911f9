package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/causeflow/widget-sessions/internal/api"
	"github.com/causeflow/widget-sessions/internal/directory"
)

const specFile = "../../openapi.yaml"

// The servers the spec declares: the router matches hosts, so requests are
// routed as if they had been sent there.
const (
	publicServer   = "https://api.causeflow.ai"
	internalServer = "http://127.0.0.1:9090"
)

// spec is openapi.yaml, loaded and validated, with a router over it.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return spec{doc: doc, router: router}
}

// schemaOptions check what kin-openapi leaves alone by default: that a
// format: uri string is an absolute URI.
var schemaOptions = []openapi3.SchemaValidationOption{
	openapi3.WithStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return fmt.Errorf("%q is not an absolute URI", s)
		}
		return nil
	})),
}

// checkResponse validates a real response against the operation that
// method and path route to, which must declare its status.
func (s spec) checkResponse(t *testing.T, server, method, path string, resp response) {
	t.Helper()
	req, err := http.NewRequest(method, server+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no operation in the spec: %v", method, path, err)
	}
	if route.Operation.Responses.Status(resp.Status) == nil {
		t.Fatalf("%s %s answered %d, which the spec does not declare for %s", method, path, resp.Status, route.Operation.OperationID)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: resp.Status,
		Header: resp.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, MultiError: true, SchemaValidationOptions: schemaOptions,
		},
	}
	input.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		t.Errorf("%s %s %d does not conform to the spec: %v\nheaders: %v\nbody: %s", method, path, resp.Status, err, resp.Header, resp.Body)
	}
}

// checkRequest validates a request body against the spec's request schema.
func (s spec) checkRequest(method, path, body string) error {
	req, err := http.NewRequest(method, publicServer+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer x.y.z")
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return err
	}
	// SkipSettingDefaults: otherwise kin-openapi replaces a null member
	// that has a default with the default before validating, and would
	// accept "ttlSeconds": null, which the server rightly refuses.
	return openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, SkipSettingDefaults: true},
	})
}

// TestResponsesConformToSpec sends requests that produce every status of
// the public API and the internal listener and validates the real
// responses, headers and bodies, against openapi.yaml.
func TestResponsesConformToSpec(t *testing.T) {
	s := loadSpec(t)
	f := newFixture(t, withMinter(failingMinter))
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	dir, err := directory.NewHTTP(failing.URL, directory.HTTPOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	down := newFixture(t, withDirectory(dir))
	limited := newFixture(t, withMintLimit(1))

	admin, viewer := f.bearer(t), "Bearer "+f.callerToken(t, "demo", "viewer_vic", "viewer")
	etag := f.get(t, jwksPath).Header.Get("ETag")
	type call struct {
		name   string
		fx     *fixture
		method string
		auth   string
		body   string
		ctype  string
		header [2]string
		path   string
		status int
	}
	post := func(name, auth, body string, status int) call {
		return call{name: name, fx: f, method: http.MethodPost, path: mintPath, auth: auth, body: body, status: status}
	}
	calls := []call{
		post("created", admin, `{"userId":"user_alice"}`, 201),
		post("created with every field", admin, `{"userId":"user_bob","incidentId":"inc_1","ttlSeconds":86400}`, 201),
		post("validation, body", admin, `[]`, 400),
		post("validation, field", admin, `{"userId":""}`, 400),
		post("unauthorized", "", `{"userId":"user_alice"}`, 401),
		post("unauthorized, garbage", "Bearer nope", `{"userId":"user_alice"}`, 401),
		post("forbidden", viewer, `{"userId":"user_alice"}`, 403),
		post("user not found", admin, `{"userId":"user_carol"}`, 404),
		post("payload too large", admin, `{"userId":"`+strings.Repeat("u", 17<<10)+`"}`, 413),
		{name: "unsupported media type", fx: f, method: http.MethodPost, path: mintPath, auth: admin, body: `{"userId":"user_alice"}`, ctype: "text/plain", status: 415},
		post("internal error, panic", admin, `{"userId":"user_panic"}`, 500),
		post("internal error, plain error", admin, `{"userId":"user_error"}`, 500),
		{name: "within the tenant's mints", fx: limited, method: http.MethodPost, path: mintPath, auth: limited.bearer(t), body: `{"userId":"user_alice"}`, status: 201},
		{name: "past the tenant's mints", fx: limited, method: http.MethodPost, path: mintPath, auth: limited.bearer(t), body: `{"userId":"user_alice"}`, status: 429},
		{name: "dependency unavailable", fx: down, method: http.MethodPost, path: mintPath, auth: down.bearer(t), body: `{"userId":"user_alice"}`, status: 503},
		{name: "jwks", fx: f, method: http.MethodGet, path: jwksPath, status: 200},
		{name: "jwks not modified", fx: f, method: http.MethodGet, path: jwksPath, header: [2]string{"If-None-Match", etag}, status: 304},
	}
	seen := map[int]bool{}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.fx.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.method == http.MethodPost {
				req.Header.Set("Content-Type", "application/json")
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.header[0] != "" {
				req.Header.Set(c.header[0], c.header[1])
			}
			resp := c.fx.do(t, req)
			if resp.Status != c.status {
				t.Fatalf("status = %d, want %d: %s", resp.Status, c.status, resp.Body)
			}
			seen[resp.Status] = true
			s.checkResponse(t, publicServer, c.method, c.path, resp)
			if resp.Status == http.StatusCreated {
				// What the server accepts, the spec must accept too.
				if err := s.checkRequest(c.method, c.path, c.body); err != nil {
					t.Errorf("the spec refuses a request the server accepted: %v", err)
				}
			}
		})
	}
	// Every status the minting operation declares was produced above.
	op := s.doc.Paths.Value(mintPath).Post
	for code := range op.Responses.Map() {
		var status int
		fmt.Sscan(code, &status)
		if !seen[status] {
			t.Errorf("the spec declares %s for %s, and no test produced it", code, op.OperationID)
		}
	}

	t.Run("internal listener", func(t *testing.T) {
		for _, c := range []struct {
			path  string
			ready error
		}{
			{"/healthz", nil}, {"/readyz", nil}, {"/readyz", errors.New("caller JWKS not loaded")}, {"/metrics", nil},
		} {
			rec := httptest.NewRecorder()
			api.NewInternal(f.reg, func() error { return c.ready }, nil, false).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
			s.checkResponse(t, internalServer, http.MethodGet, c.path, response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
		}
	})

	t.Run("unrouted", func(t *testing.T) {
		// No operation to hold these to; their bodies are still the
		// spec's Error, and the router agrees that there is no operation.
		errSchema := s.doc.Components.Schemas["Error"].Value
		for _, c := range []struct {
			method, path string
			status       int
			routeErr     error
		}{
			{http.MethodGet, "/nope", 404, routers.ErrPathNotFound},
			{http.MethodGet, mintPath, 405, routers.ErrMethodNotAllowed},
		} {
			req, _ := http.NewRequest(c.method, f.URL+c.path, nil)
			resp := f.do(t, req)
			if resp.Status != c.status {
				t.Fatalf("%s %s: status %d, want %d", c.method, c.path, resp.Status, c.status)
			}
			var v any
			if err := json.NewDecoder(bytes.NewReader(resp.Body)).Decode(&v); err != nil {
				t.Fatal(err)
			}
			if err := errSchema.VisitJSON(v); err != nil {
				t.Errorf("%s %s: body %s is not the spec's Error: %v", c.method, c.path, resp.Body, err)
			}
			sreq, _ := http.NewRequest(c.method, publicServer+c.path, nil)
			if _, _, err := s.router.FindRoute(sreq); !errors.Is(err, c.routeErr) {
				t.Errorf("%s %s: spec router says %v, want %v", c.method, c.path, err, c.routeErr)
			}
		}
	})
}

// TestRequestSchemaAgreesWithServer checks that the spec's request schema
// refuses what the server refuses, where JSON Schema can say it (it cannot
// say "no duplicate keys" or "no 1e3").
func TestRequestSchemaAgreesWithServer(t *testing.T) {
	s := loadSpec(t)
	for _, body := range []string{
		`{}`, `{"userId":null}`, `{"userId":42}`, `{"userId":""}`, `{"userId":"` + strings.Repeat("u", 129) + `"}`,
		`{"userId":"user alice"}`, `{"userId":"user\talice"}`, `{"userId":"user\nalice"}`, `{"userId":"a\u0000b"}`,
		`{"userId":"u","incidentId":""}`, `{"userId":"u","incidentId":"inc 1"}`, `{"userId":"u","incidentId":1}`,
		`{"userId":"u","ttlSeconds":0}`, `{"userId":"u","ttlSeconds":-1}`, `{"userId":"u","ttlSeconds":86401}`,
		`{"userId":"u","ttlSeconds":1.5}`, `{"userId":"u","ttlSeconds":"60"}`, `{"userId":"u","ttlSeconds":null}`,
		`{"userId":"u","extra":1}`, `[]`,
	} {
		if err := s.checkRequest(http.MethodPost, mintPath, body); err == nil {
			t.Errorf("the spec accepts %s, which the server refuses", body)
		}
	}
	for _, body := range []string{
		`{"userId":"` + strings.Repeat("u", 128) + `"}`, `{"userId":"` + strings.Repeat("é", 128) + `"}`,
		`{"userId":"u","incidentId":"i","ttlSeconds":1}`,
	} {
		if err := s.checkRequest(http.MethodPost, mintPath, body); err != nil {
			t.Errorf("the spec refuses %s, which the server accepts: %v", body, err)
		}
	}
}
