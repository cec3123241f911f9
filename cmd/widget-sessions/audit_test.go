package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/internal/wait"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// auditLine is the schema of docs/audit.md, read back.
type auditLine struct {
	Time      string `json:"time"`
	Event     string `json:"event"`
	RequestID string `json:"requestId"`
	Actor     struct {
		Kind, Subject, Tenant string
		Roles                 []string
	} `json:"actor"`
	Target struct {
		Tenant, User, Session, Incident, Message, Route, Kid string
	} `json:"target"`
	Outcome string `json:"outcome"`
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Reason  string `json:"reason"`
	Rating  string `json:"rating"`
}

func readAudit(t *testing.T, path string) []auditLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []auditLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l auditLine
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields() // the schema is the documented one, nothing more
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestAuditTrail runs every kind of audit event through the real service
// (mint, the three revocations, a stopped reply, callers refused with 401
// and 403, a limit's 429, a key reload) and reads the trail back from its
// file: one line each, with its actor, target, outcome and request id, and
// no token, caller JWT or key anywhere in it.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile, trail := filepath.Join(dir, "keys.jwks.json"), filepath.Join(dir, "audit.jsonl")
	if _, err := keys.AppendToFile(keyFile, token.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{
		"WIDGET_SIGNING_KEYS": keyFile, "WIDGET_KEYS_WATCH_INTERVAL": "50ms", "WIDGET_AUDIT_LOG": trail,
		"WIDGET_MINT_RATE_LIMIT": "2",
	})
	admin, member := devToken(t, s, "demo", "backend", "admin"), devToken(t, s, "demo", "backend", "member")
	ops := devToken(t, s, "causeflow", "oncall", "ops")
	acme := devToken(t, s, "acme", "acme_backend", "admin")

	one := s.mintCreated(t, admin, `{"userId":"user_alice","incidentId":"inc_EXAMPLE_01JX"}`)
	two := s.mintCreated(t, admin, `{"userId":"user_bob"}`)
	msg := s.mustSend(t, two.SessionID, two.SessionToken, "why did checkout fail?")
	if r := s.do(t, http.MethodPost, s.public+"/v1/widget/sessions/"+two.SessionID+"/messages/"+msg+"/stop", bearer(two.SessionToken), ""); r.status != http.StatusNoContent {
		t.Fatalf("stop: %d %s", r.status, r.body)
	}
	s.mustRevoke(t, admin, "/v1/widget/sessions/"+one.SessionID)
	s.mustRevoke(t, admin, "/v1/widget/users/user_alice/sessions")
	s.mustRevoke(t, ops, "/v1/widget/tenants/demo/sessions")
	if r := s.mint(t, "", `{"userId":"user_alice"}`); r.status != http.StatusUnauthorized {
		t.Fatalf("mint without a caller: %d", r.status)
	}
	if r := s.revoke(t, member, "/v1/widget/tenants/demo/sessions"); r.status != http.StatusForbidden {
		t.Fatalf("a member revoking the tenant: %d", r.status)
	}
	s.mintCreated(t, acme, `{"userId":"user_carol"}`)
	s.mintCreated(t, acme, `{"userId":"user_carol"}`)
	if r := s.mint(t, acme, `{"userId":"user_carol"}`); r.status != http.StatusTooManyRequests {
		t.Fatalf("acme's third mint in the window: %d", r.status)
	}
	if _, err := keys.AppendToFile(keyFile, token.AlgEdDSA); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "the key reload audited", func() bool {
		b, _ := os.ReadFile(trail)
		return strings.Contains(string(b), `"keys.reloaded"`)
	})
	keyBytes, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s.stop(t)

	raw, err := os.ReadFile(trail)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(trail); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the trail's file mode: %v %v, want 0600", info.Mode(), err)
	}
	secrets := map[string]string{
		"session token one": one.SessionToken, "session token two": two.SessionToken,
		"the admin's caller JWT": admin, "the ops caller JWT": ops, "the member's caller JWT": member,
	}
	var keySet struct{ Keys []struct{ D string } }
	if err := json.Unmarshal(keyBytes, &keySet); err != nil || len(keySet.Keys) != 2 {
		t.Fatalf("key file: %v", err)
	}
	for i, k := range keySet.Keys {
		secrets["private key "+string(rune('1'+i))] = k.D
	}
	assertNotInLog(t, string(raw), secrets)
	if strings.Contains(string(raw), "Bearer") || strings.Contains(string(raw), "wst_") || strings.Contains(string(raw), "eyJ") {
		t.Error("the trail holds something shaped like a credential")
	}

	lines := readAudit(t, trail)
	find := func(event string, match func(l auditLine) bool) auditLine {
		t.Helper()
		for _, l := range lines {
			if l.Event == event && match(l) {
				if l.Time == "" || (event != "keys.reloaded" && l.RequestID == "") {
					t.Errorf("%s: no time or request id: %+v", event, l)
				}
				return l
			}
		}
		t.Fatalf("no %s line matching; the trail:\n%s", event, raw)
		return auditLine{}
	}
	caller := func(l auditLine, subject, tenant string, roles ...string) bool {
		return l.Actor.Kind == "caller" && l.Actor.Subject == subject && l.Actor.Tenant == tenant && slices.Equal(l.Actor.Roles, roles)
	}
	find("session.created", func(l auditLine) bool {
		return caller(l, "backend", "demo", "admin") && l.Target.Tenant == "demo" && l.Target.User == "user_alice" &&
			l.Target.Session == one.SessionID && l.Target.Incident == "inc_EXAMPLE_01JX" && l.Outcome == "ok" && l.Status == 201
	})
	find("response.stopped", func(l auditLine) bool {
		return l.Actor.Kind == "session" && l.Actor.Subject == "user_bob" && l.Actor.Tenant == "demo" &&
			l.Target.Session == two.SessionID && l.Target.Message == msg && l.Outcome == "ok"
	})
	find("session.revoked", func(l auditLine) bool {
		return caller(l, "backend", "demo", "admin") && l.Target.Tenant == "demo" && l.Target.Session == one.SessionID && l.Status == 204
	})
	find("user.sessions_revoked", func(l auditLine) bool {
		return caller(l, "backend", "demo", "admin") && l.Target.Tenant == "demo" && l.Target.User == "user_alice" && l.Status == 204
	})
	find("tenant.sessions_revoked", func(l auditLine) bool {
		return caller(l, "oncall", "causeflow", "ops") && l.Target.Tenant == "demo" && l.Status == 204
	})
	find("caller.refused", func(l auditLine) bool {
		return l.Actor.Kind == "unknown" && l.Outcome == "refused" && l.Status == 401 && l.Code == "unauthorized" &&
			l.Target.Route == "POST /v1/widget/sessions"
	})
	find("caller.refused", func(l auditLine) bool {
		return caller(l, "backend", "demo", "member") && l.Outcome == "refused" && l.Status == 403 && l.Code == "forbidden" &&
			l.Target.Tenant == "demo" && l.Target.Route == "DELETE /v1/widget/tenants/:tenantId/sessions"
	})
	find("limit.refused", func(l auditLine) bool {
		return caller(l, "acme_backend", "acme", "admin") && l.Status == 429 && l.Code == "rate_limited" && l.Target.Route == "POST /v1/widget/sessions"
	})
	find("keys.reloaded", func(l auditLine) bool {
		return l.Actor.Kind == "system" && l.Outcome == "ok" && l.Reason == "file change" && l.Target.Kid != ""
	})
	created := 0
	for _, l := range lines {
		if l.Event == "session.created" {
			created++
		}
	}
	if created != 4 {
		t.Errorf("%d session.created lines, want 4 (one per 201)", created)
	}
}
