package testkit

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test when d passes first:
// d bounds a functional wait, it is not a performance figure.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
