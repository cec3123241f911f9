package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

// bareAPI serves the hot paths' baseline: what a mint and an introspection
// cost at the least, with the same crypto and encodings as the service and
// nothing else (no auth, logging, metrics or router). POST /mint decodes a
// JSON body, signs an Ed25519 JWS with a precomputed header and answers
// JSON; POST /introspect reads a form, verifies such a JWS, decodes its
// claims and answers JSON; GET /token is a token for /introspect.
func bareAPI(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare-api", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file, to read next to the service's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	b64 := base64.RawURLEncoding
	header := b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"bare","typ":"JWT"}`)) + "."
	sign := func(c bareClaims) string {
		payload, _ := json.Marshal(c)
		input := header + b64.EncodeToString(payload)
		return input + "." + b64.EncodeToString(ed25519.Sign(priv, []byte(input)))
	}
	claims := func(user string) bareClaims {
		now := time.Now()
		id := randomID()
		return bareClaims{Issuer: "https://widget-sessions.test", Audience: "causeflow-widget", Subject: user, Tenant: "demo",
			SessionID: "wsess_" + id, ID: id, IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(15 * time.Minute).Unix(), Scope: "widget"}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(sign(claims("user_alice")))) })
	mux.HandleFunc("POST /mint", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UserID     string `json:"userId"`
			IncidentID string `json:"incidentId"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		c := claims(req.UserID)
		c.Incident = req.IncidentID
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"sessionId": c.SessionID, "sessionToken": sign(c),
			"expiresAt": time.Unix(c.Expiry, 0).UTC().Format(time.RFC3339), "widgetUrl": "http://bare/embed?session=" + c.SessionID,
		})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		tok := r.PostForm.Get("token")
		var c bareClaims
		active := false
		if dot := strings.LastIndexByte(tok, '.'); dot > 0 && strings.HasPrefix(tok, header) {
			sig, err1 := b64.DecodeString(tok[dot+1:])
			payload, err2 := b64.DecodeString(tok[len(header):dot])
			active = err1 == nil && err2 == nil && ed25519.Verify(pub, []byte(tok[:dot]), sig) &&
				json.Unmarshal(payload, &c) == nil && c.Expiry > time.Now().Unix()
		}
		w.Header().Set("Content-Type", "application/json")
		if !active {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		c.Active = true
		_ = json.NewEncoder(w).Encode(c)
	})
	srv := &http.Server{Addr: *addr, Handler: mux}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareClaims are the claims of a session token, as the service's are.
type bareClaims struct {
	Active    bool   `json:"active,omitempty"`
	Issuer    string `json:"iss"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"`
	Tenant    string `json:"tid"`
	SessionID string `json:"sid"`
	ID        string `json:"jti"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	Scope     string `json:"scope"`
	Incident  string `json:"inc,omitempty"`
}

// randomID is 20 random bytes, base64url: the size of a KSUID's text.
func randomID() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
