package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func loginFrom(s *Service, name, password, addr string) error {
	_, err := s.Login(context.Background(), LoginRequest{
		Username: name, Password: password, Client: Client{IP: netip.MustParseAddr(addr)},
	})
	return err
}

func isRateLimited(err error) bool {
	var rl *RateLimitedError
	return errors.As(err, &rl)
}

// An attacker failing on purpose from one address must not keep the owner
// out: the lock is per (user, address).
func TestLockoutAttackerCannotLockOutOwner(t *testing.T) {
	s, _, clock := newTestService(t, nil)
	mustCreate(t, s, "admin", "admin-password", RoleAdmin)
	const attacker, home = "198.51.100.66", "192.0.2.20"
	if err := loginFrom(s, "admin", "admin-password", home); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if err := loginFrom(s, "admin", "guess-"+fmt.Sprint(i), attacker); err == nil {
			t.Fatal("wrong password accepted")
		}
	}
	if err := loginFrom(s, "admin", "admin-password", attacker); !isRateLimited(err) {
		t.Fatalf("attacker's address after 20 failures: %v, want rate limited", err)
	}
	// The owner, from the address they use, is not held up at all.
	if err := loginFrom(s, "admin", "admin-password", home); err != nil {
		t.Fatalf("owner from a known address during the attack: %v", err)
	}
	if err := loginFrom(s, "admin", "admin-password", "127.0.0.1"); err != nil {
		t.Fatalf("owner from loopback during the attack: %v", err)
	}
	// From an address never used before, they wait at most one turn.
	err := loginFrom(s, "admin", "admin-password", "203.0.113.9")
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		if rl.RetryAfter > backoffMax {
			t.Fatalf("fresh address told to wait %s", rl.RetryAfter)
		}
		clock.Advance(rl.RetryAfter)
		err = loginFrom(s, "admin", "admin-password", "203.0.113.9")
	}
	if err != nil {
		t.Fatalf("owner from a fresh address: %v", err)
	}
}

// Guessing from many addresses is slowed by the per-user backoff, while
// the owner at an address they used before is never held up.
func TestLockoutDistributedGuessingIsThrottled(t *testing.T) {
	s, _, clock := newTestService(t, nil)
	mustCreate(t, s, "admin", "admin-password", RoleAdmin)
	const home = "192.0.2.20"
	if err := loginFrom(s, "admin", "admin-password", home); err != nil {
		t.Fatal(err)
	}
	// One guess every 100 ms for 10 minutes (on the service's clock), each
	// from a fresh address, so the per-address lock never engages.
	tried, limited := 0, 0
	for i := 0; i < 6000; i++ {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		err := loginFrom(s, "admin", "guess", addr)
		switch {
		case isRateLimited(err):
			limited++
		case errors.Is(err, ErrInvalidCredentials):
			tried++
		default:
			t.Fatalf("guess %d: %v", i, err)
		}
		if i%600 == 0 {
			if err := loginFrom(s, "admin", "admin-password", home); err != nil {
				t.Fatalf("owner from a known address during the attack: %v", err)
			}
		}
		clock.Advance(100 * time.Millisecond)
	}
	// 10 minutes at one guess per backoffMax (30 s) is 20, plus the free
	// MaxAttempts and the shorter first intervals.
	if tried > 40 {
		t.Fatalf("%d of 6000 distributed guesses reached the password check (%d refused)", tried, limited)
	}
	t.Logf("distributed guessing: %d of 6000 guesses checked, %d refused", tried, limited)
	// A fresh address of the owner waits its turn, then gets in.
	err := loginFrom(s, "admin", "admin-password", "203.0.113.5")
	var rl *RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("fresh address during the attack: %v, want a turn to wait for", err)
	}
	clock.Advance(rl.RetryAfter)
	if err := loginFrom(s, "admin", "admin-password", "203.0.113.5"); err != nil {
		t.Fatalf("fresh address after its wait: %v", err)
	}
}

// Another process (the console) clears the lock through the database; the
// daemon's service sees it at once.
func TestLockoutClearedByAnotherService(t *testing.T) {
	s, d, clock := newTestService(t, nil)
	mustCreate(t, s, "erin", "erin-password", RoleUser)
	const addr = "198.51.100.7"
	for i := 0; i < 5; i++ {
		_ = loginFrom(s, "erin", "wrong-password", addr)
	}
	if err := loginFrom(s, "erin", "erin-password", addr); !isRateLimited(err) {
		t.Fatalf("locked address: %v", err)
	}
	console := New(d, testOptions(clock))
	cleared, err := console.ClearLockout(context.Background(), "ERIN")
	if err != nil || !cleared {
		t.Fatalf("clear: %v %v", cleared, err)
	}
	if err := loginFrom(s, "erin", "erin-password", addr); err != nil {
		t.Fatalf("after the console cleared the lock: %v", err)
	}
}
