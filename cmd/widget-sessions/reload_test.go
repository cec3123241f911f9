package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/causeflow/widget-sessions/internal/wait"

	"github.com/causeflow/widget-sessions/internal/keys"
	"github.com/causeflow/widget-sessions/pkg/token"
)

// sighup sends SIGHUP to this process, where run has registered for it.
// Sending it with nobody registered would kill the test binary, so the
// SIGHUP tests are not parallel: no other server is starting or stopping.
func sighup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

// waitForKID polls the public JWKS until it publishes kid, for at most 2 s.
func waitForKID(t *testing.T, s *testServer, kid string) bool {
	t.Helper()
	return wait.Poll(2*time.Second, func() bool { return jwksKIDs(t, s)[kid] })
}

// TestSIGHUPReload: keys appended to the key file and announced with
// SIGHUP are published without a single failed mint, and a broken file is
// refused while minting carries on with the keys already loaded.
//
// Not parallel: see sighup.
func TestSIGHUPReload(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys.jwks.json")
	active, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{
		"WIDGET_SIGNING_KEYS": keyFile,
		"WIDGET_SIGNING_KID":  active,
	})
	caller := devToken(t, s, "demo", "user_alice", "member")

	// Minters: bounded by stop and by a 5 s deadline; every response
	// must be 201, signed by the active key.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		minted   atomic.Int64
		mu       sync.Mutex
		failures []string
	)
	deadline := time.Now().Add(5 * time.Second)
	for range 4 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				status, kid, err := mintOnce(s, caller)
				if err == nil && (status != http.StatusCreated || kid != active) {
					err = fmt.Errorf("status %d, kid %q", status, kid)
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				minted.Add(1)
			}
		})
	}

	var added []string
	for i := range 3 {
		kid, err := keys.AppendToFile(keyFile, token.AlgES256)
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, kid)
		sighup(t)
		if !waitForKID(t, s, kid) {
			t.Errorf("reload %d: the JWKS does not publish the new kid %q\nlog:\n%s", i, kid, s.log)
		}
	}
	close(stop)
	wg.Wait()
	for _, f := range failures {
		t.Errorf("a mint during reloads failed: %s", f)
	}
	if minted.Load() == 0 {
		t.Fatal("no mint ran during the reloads")
	}
	t.Logf("%d mints during 3 reloads", minted.Load())
	kids := jwksKIDs(t, s)
	for _, kid := range append(added, active) {
		if !kids[kid] {
			t.Errorf("after the reloads the JWKS lacks %q", kid)
		}
	}
	ds := privateDs(t, keyFile)

	t.Run("broken file is refused, the current keys stay", func(t *testing.T) {
		if err := os.WriteFile(keyFile, []byte(`{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "half`), 0o600); err != nil {
			t.Fatal(err)
		}
		sighup(t)
		if !s.log.waitFor("key reload failed", 2*time.Second) {
			t.Fatalf("no error logged for the broken key file\nlog:\n%s", s.log)
		}
		if status, kid, err := mintOnce(s, caller); err != nil || status != http.StatusCreated || kid != active {
			t.Errorf("mint after a failed reload: %d, kid %q, %v; want 201 signed by %q", status, kid, err, active)
		}
		if got := jwksKIDs(t, s); len(got) != len(kids) {
			t.Errorf("after a failed reload the JWKS holds %v, want %v", got, kids)
		}
	})

	s.stop(t)
	secrets := map[string]string{"the caller token": caller}
	for i, d := range ds {
		secrets[fmt.Sprintf("private key #%d (d)", i)] = d
	}
	assertNotInLog(t, s.log.String(), secrets)
}

// TestSIGHUPReloadWithoutSigningKID is the README's rotation step 1 for a
// server started with one key and no WIDGET_SIGNING_KID (which the README
// allows): adding a key and sending SIGHUP must publish it.
//
// Not parallel: see sighup.
func TestSIGHUPReloadWithoutSigningKID(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys.jwks.json")
	active, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, map[string]string{"WIDGET_SIGNING_KEYS": keyFile})
	next, err := keys.AppendToFile(keyFile, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	sighup(t)
	if !waitForKID(t, s, next) {
		t.Fatalf("the JWKS does not publish the added kid\nlog:\n%s", s.log)
	}
	sess := s.mintCreated(t, devToken(t, s, "demo", "user_alice", "admin"), `{"userId": "user_alice"}`)
	if got := headerKID(t, sess.SessionToken); got != active {
		t.Errorf("after adding a key the token kid = %q, want the original %q", got, active)
	}
}

// mintOnce mints for user_alice and returns the status and the token's kid.
// It reports transport errors instead of failing, so that it can run on
// any goroutine.
func mintOnce(s *testServer, caller string) (status int, kid string, err error) {
	req, err := http.NewRequest(http.MethodPost, s.public+"/v1/widget/sessions",
		strings.NewReader(`{"userId": "user_alice"}`))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+caller)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body createSessionResponse
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, tokenKID(body.SessionToken), nil
}
