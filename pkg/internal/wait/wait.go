// Package wait is the tests' one way to wait for what happens in its own
// time (a message over Redis, a file watcher's tick, a stream ending): a
// condition polled every few milliseconds, within a bound. The bounds are
// generous on purpose, never a claim about speed: tests run under -race on
// busy machines. What can run on a fake clock uses testing/synctest
// instead.
//
// This is the public module's copy of the service's internal/wait, kept
// identical to it (TestWaitCopiesAgree in the service's module holds them
// so): internal packages cannot cross a module boundary, and the public
// module's tests must not import the service.
package wait

import (
	"testing"
	"time"
)

// Limit is the bound of For: long enough for a busy CI machine, short
// enough that a test that will fail says so soon.
const Limit = 5 * time.Second

// maxInterval bounds the pause between two polls. Polls start a
// millisecond apart and back off to it, so that what happens at once is
// seen at once, and a condition that costs something (a process started,
// a request sent) is not asked hundreds of times a second for long.
const maxInterval = 20 * time.Millisecond

// Poll polls cond until it holds, for at most limit, and reports whether
// it did. It is the one polling loop; For and Within fail the test
// instead of returning false.
func Poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, maxInterval)
	}
	return true
}

// For polls cond until it holds, failing the test if it does not within
// Limit. explain, when given, adds to the failure what the test knows
// (a log, the last value seen).
func For(t testing.TB, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	Within(t, Limit, what, cond, explain...)
}

// Within polls cond until it holds and returns how long that took, failing
// the test if it does not within limit.
func Within(t testing.TB, limit time.Duration, what string, cond func() bool, explain ...func() string) time.Duration {
	t.Helper()
	start := time.Now()
	if !Poll(limit, cond) {
		msg := ""
		for _, e := range explain {
			msg += "\n" + e()
		}
		t.Fatalf("%s: not within %v%s", what, limit, msg)
	}
	return time.Since(start)
}
