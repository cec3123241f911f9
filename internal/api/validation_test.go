package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCreateSessionValidation sends bodies the API must refuse with 400
// validation_error, each naming the field at fault when there is one, and
// a few at the edges that it must accept.
func TestCreateSessionValidation(t *testing.T) {
	f := newFixture(t)
	long := func(n int) string { return strings.Repeat("u", n) }
	tests := []struct {
		name  string
		body  string
		field string // "" = the body as a whole is wrong
	}{
		{"not JSON", `userId=user_alice`, ""},
		{"broken JSON", `{"userId":"user_alice"`, ""},
		{"empty body", ``, ""},
		{"whitespace body", " \n ", ""},
		{"JSON array", `[{"userId":"user_alice"}]`, ""},
		{"JSON string", `"user_alice"`, ""},
		{"JSON null", `null`, ""},
		{"invalid UTF-8", "{\"userId\":\"user_\xff\"}", ""},
		{"trailing data", `{"userId":"user_alice"} {}`, ""},
		{"trailing garbage", `{"userId":"user_alice"}x`, ""},
		{"missing userId", `{}`, "userId"},
		{"missing userId with others", `{"incidentId":"inc_1","ttlSeconds":60}`, "userId"},
		{"userId null", `{"userId":null}`, "userId"},
		{"userId number", `{"userId":42}`, "userId"},
		{"userId bool", `{"userId":true}`, "userId"},
		{"userId array", `{"userId":["user_alice"]}`, "userId"},
		{"userId empty", `{"userId":""}`, "userId"},
		{"userId 129 chars", `{"userId":"` + long(129) + `"}`, "userId"},
		{"userId space", `{"userId":"user alice"}`, "userId"},
		{"userId tab", `{"userId":"user\talice"}`, "userId"},
		{"userId newline", `{"userId":"user_alice\n"}`, "userId"},
		{"userId NUL", `{"userId":"user\u0000alice"}`, "userId"},
		{"incidentId empty", `{"userId":"user_alice","incidentId":""}`, "incidentId"},
		{"incidentId space", `{"userId":"user_alice","incidentId":"inc 1"}`, "incidentId"},
		{"incidentId number", `{"userId":"user_alice","incidentId":1}`, "incidentId"},
		{"incidentId null", `{"userId":"user_alice","incidentId":null}`, "incidentId"},
		{"ttlSeconds 0", `{"userId":"user_alice","ttlSeconds":0}`, "ttlSeconds"},
		{"ttlSeconds -1", `{"userId":"user_alice","ttlSeconds":-1}`, "ttlSeconds"},
		{"ttlSeconds 86401", `{"userId":"user_alice","ttlSeconds":86401}`, "ttlSeconds"},
		{"ttlSeconds 1.5", `{"userId":"user_alice","ttlSeconds":1.5}`, "ttlSeconds"},
		{"ttlSeconds 60.0", `{"userId":"user_alice","ttlSeconds":60.0}`, "ttlSeconds"},
		{"ttlSeconds string", `{"userId":"user_alice","ttlSeconds":"60"}`, "ttlSeconds"},
		{"ttlSeconds null", `{"userId":"user_alice","ttlSeconds":null}`, "ttlSeconds"},
		{"ttlSeconds 1e3", `{"userId":"user_alice","ttlSeconds":1e3}`, "ttlSeconds"},
		{"ttlSeconds overflow", `{"userId":"user_alice","ttlSeconds":99999999999999999999}`, "ttlSeconds"},
		{"unknown field", `{"userId":"user_alice","tenantId":"acme"}`, "tenantId"},
		{"field name case", `{"userid":"user_alice"}`, "userid"},
		{"duplicate key", `{"userId":"user_alice","userId":"user_bob"}`, "userId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := mintCount(t, f.reg, "created")
			refused := mintCount(t, f.reg, "validation_error")
			resp := f.do(t, f.mintRequest(t, f.bearer(t), tt.body))
			e := checkError(t, resp, http.StatusBadRequest, "validation_error")
			switch {
			case tt.field == "" && e.Field != nil:
				t.Errorf("field = %q, want none: the body as a whole is wrong", *e.Field)
			case tt.field != "" && (e.Field == nil || *e.Field != tt.field):
				t.Errorf("field = %v, want %q", e.Field, tt.field)
			case tt.field != "" && !strings.HasPrefix(e.Message, tt.field+": "):
				t.Errorf("message = %q, want it to start with %q", e.Message, tt.field+": ")
			}
			if got := mintCount(t, f.reg, "created"); got != created {
				t.Errorf("mints_total{created} went from %v to %v on a refused request", created, got)
			}
			if got := mintCount(t, f.reg, "validation_error"); got != refused+1 {
				t.Errorf("mints_total{validation_error} = %v, want %v", got, refused+1)
			}
		})
	}

	// At the edges, and past validation: a 128-character userId is a valid
	// id, so the directory is asked and answers "no such user".
	t.Run("userId 128 chars passes validation", func(t *testing.T) {
		resp := f.do(t, f.mintRequest(t, f.bearer(t), `{"userId":"`+long(128)+`"}`))
		checkError(t, resp, http.StatusNotFound, "user_not_found")
	})
	t.Run("userId 128 multi-byte characters passes validation", func(t *testing.T) {
		resp := f.do(t, f.mintRequest(t, f.bearer(t), `{"userId":"`+strings.Repeat("é", 128)+`"}`))
		checkError(t, resp, http.StatusNotFound, "user_not_found")
	})
}

// TestCreateSessionBodyLimits checks 413 for bodies over 16 KiB, whether the
// length is announced or the body is chunked, and that 16 KiB exactly is
// read.
func TestCreateSessionBodyLimits(t *testing.T) {
	f := newFixture(t)
	// A valid request padded with whitespace to n bytes.
	padded := func(n int) string {
		s := `{"userId":"user_alice"}`
		return s + strings.Repeat(" ", n-len(s))
	}
	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"17 KiB with Content-Length", padded(17 << 10), false, http.StatusRequestEntityTooLarge},
		{"17 KiB chunked", padded(17 << 10), true, http.StatusRequestEntityTooLarge},
		{"16 KiB + 1 with Content-Length", padded(16<<10 + 1), false, http.StatusRequestEntityTooLarge},
		{"16 KiB + 1 chunked", padded(16<<10 + 1), true, http.StatusRequestEntityTooLarge},
		{"1 MiB chunked", padded(1 << 20), true, http.StatusRequestEntityTooLarge},
		{"16 KiB exactly", padded(16 << 10), false, http.StatusCreated},
		{"16 KiB exactly chunked", padded(16 << 10), true, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			created := mintCount(t, f.reg, "created")
			req := f.mintRequest(t, f.bearer(t), tt.body)
			if tt.chunked {
				// A reader of unknown length: net/http sends it chunked.
				req.Body = io.NopCloser(io.MultiReader(strings.NewReader(tt.body)))
				req.ContentLength = -1
			}
			resp := f.do(t, req)
			if tt.status == http.StatusCreated {
				decodeCreated(t, resp)
				return
			}
			e := checkError(t, resp, tt.status, "payload_too_large")
			if !strings.Contains(e.Message, fmt.Sprint(16<<10)) {
				t.Errorf("message = %q, want it to state the limit", e.Message)
			}
			if got := mintCount(t, f.reg, "created"); got != created {
				t.Errorf("mints_total{created} went from %v to %v", created, got)
			}
		})
	}
}

// TestCreateSessionTooLargeAnnounced checks that a body announced as too
// large is refused at once, without waiting for (or reading) the body.
func TestCreateSessionTooLargeAnnounced(t *testing.T) {
	f := newFixture(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	// Headers and the start of a 1 MiB body; the rest never comes.
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: api\r\nAuthorization: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"userId\":\"", mintPath, f.bearer(t), 1<<20)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response before the body was sent: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	checkError(t, response{Status: resp.StatusCode, Header: resp.Header, Body: body}, http.StatusRequestEntityTooLarge, "payload_too_large")
}

// TestCreateSessionMediaType checks 415 for anything but application/json.
func TestCreateSessionMediaType(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		ctype  string // "-" = no Content-Type header
		status int
	}{
		{"text/plain", "text/plain", http.StatusUnsupportedMediaType},
		{"missing", "-", http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"json suffix type", "application/merge-patch+json", http.StatusUnsupportedMediaType},
		{"malformed", "application/json;;", http.StatusUnsupportedMediaType},
		{"charset utf-8", "application/json; charset=utf-8", http.StatusCreated},
		{"upper case", "Application/JSON", http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.mintRequest(t, f.bearer(t), `{"userId":"user_alice"}`)
			if tt.ctype == "-" {
				req.Header.Del("Content-Type")
			} else {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp := f.do(t, req)
			if tt.status == http.StatusCreated {
				decodeCreated(t, resp)
				return
			}
			checkError(t, resp, tt.status, "unsupported_media_type")
		})
	}
}
