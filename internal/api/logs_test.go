package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestLogsHoldNoSecrets sends canaries through every path a secret could
// take into the logs (the Authorization header, valid and garbage tokens,
// bodies, query strings, unrouted paths) and then searches the captured
// logs for them, and for the session tokens the API minted meanwhile.
func TestLogsHoldNoSecrets(t *testing.T) {
	f := newFixture(t, withMinter(failingMinter))
	const (
		headerCanary = "CANARYhdr0a1b2c3d4e5"                          // a garbage bearer value
		jwsCanary    = "eyJhbGciOiJFZERTQSJ9.CANARYjws5f6a7b.c8d9e0f1" // shaped like a JWS
		bodyCanary   = "CANARYbody9z8y7x6w"
		queryCanary  = "CANARYquery1q2w3e4r"
		idCanary     = "inc_CANARYinc5t6y7u8"
	)
	valid := f.callerToken(t, "demo", "admin_dana", "admin")
	viewer := f.callerToken(t, "demo", "viewer_vic", "viewer")

	type call struct {
		method, target, auth, body string
		status                     int
	}
	calls := []call{
		{"POST", mintPath, "Bearer " + headerCanary, `{"userId":"user_alice"}`, 401},
		{"POST", mintPath, "Bearer " + jwsCanary, `{"userId":"user_alice"}`, 401},
		{"POST", mintPath, "Basic " + headerCanary, `{}`, 401},
		{"POST", mintPath, headerCanary, `{}`, 401},
		{"POST", mintPath + "?token=" + queryCanary, "Bearer " + viewer, `{"userId":"` + bodyCanary + `"}`, 403},
		{"POST", mintPath + "?token=" + queryCanary, "Bearer " + valid, `{"userId":"user_alice","incidentId":"` + idCanary + `"}`, 201},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user_alice","ttlSeconds":60}`, 201},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"` + bodyCanary + `"}`, 404},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user alice ` + bodyCanary + `"}`, 400},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user_alice","` + bodyCanary + `":1}`, 400},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user_alice","password":"` + bodyCanary + `"`, 400},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user_alice"} ` + bodyCanary, 400},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user_error"}`, 500},
		{"POST", mintPath, "Bearer " + valid, `{"userId":"user_panic"}`, 500},
		{"GET", mintPath + "?token=" + queryCanary, "Bearer " + valid, "", 405},
		{"GET", jwksPath + "?token=" + queryCanary, "Bearer " + valid, "", 200},
		{"GET", "/" + queryCanary + "?token=" + queryCanary, "Bearer " + headerCanary, "", 404},
	}
	var sessionTokens []string
	for _, c := range calls {
		req, err := http.NewRequest(c.method, f.URL+c.target, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", c.auth)
		req.Header.Set("Cookie", "session="+headerCanary)
		resp := f.do(t, req)
		if resp.Status != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.target, resp.Status, c.status, resp.Body)
		}
		if c.status == http.StatusCreated {
			sessionTokens = append(sessionTokens, decodeCreated(t, resp).SessionToken)
		}
	}

	logs := f.logs.String()
	secrets := map[string]string{
		"garbage bearer canary": headerCanary, "JWS-shaped canary": jwsCanary,
		"body canary": bodyCanary, "query canary": queryCanary, "incident canary": idCanary,
		"valid caller token": valid, "viewer caller token": viewer,
		"Authorization scheme": "Bearer", "Authorization header": "uthorization",
	}
	for _, tok := range []string{valid, viewer} {
		for i, part := range strings.Split(tok, ".") {
			secrets["caller token part "+string(rune('0'+i))] = part
		}
	}
	for _, st := range sessionTokens {
		secrets["session token"] = st
		secrets["session token signature"] = st[strings.LastIndexByte(st, '.')+1:]
		secrets["session token JWS"] = strings.TrimPrefix(st, "wst_test_")
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the %s %q", name, s)
		}
	}
	if strings.Contains(logs, "wst_") {
		t.Error(`logs contain "wst_", the session token prefix`)
	}

	// The search means something only if the requests were logged.
	entries := f.logs.entries(t)
	var requestLines int
	for _, e := range entries {
		if e["msg"] == "request" {
			requestLines++
			if id, _ := e["request_id"].(string); id == "" {
				t.Errorf("request line without a request id: %v", e)
			}
		}
	}
	if requestLines != len(calls) {
		t.Errorf("%d request lines logged, want %d (one per request); logs:\n%s", requestLines, len(calls), logs)
	}
	for _, want := range []string{`"status":201`, `"status":401`, `"status":500`, `"route":"` + mintPath + `"`, `"route":"unmatched"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
}
