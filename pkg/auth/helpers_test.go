package auth

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// fastHash keeps unit tests quick; the default parameters have their own
// tests and the benchmark.
var fastHash = HashParams{Memory: 64, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func testOptions(clock *testkit.Clock) Options {
	return Options{
		Enabled:          true,
		IdleTimeout:      24 * time.Hour,
		AbsoluteTimeout:  168 * time.Hour,
		TrustedDeviceTTL: 30 * 24 * time.Hour,
		RateLimit:        true,
		MaxAttempts:      5,
		Window:           300 * time.Second,
		Hash:             fastHash,
		Now:              clock.Now,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func newTestService(t testing.TB, mod func(*Options)) (*Service, *db.DB, *testkit.Clock) {
	t.Helper()
	clock := testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	opt := testOptions(clock)
	if mod != nil {
		mod(&opt)
	}
	d := testkit.OpenDB(t, "")
	return New(d, opt), d, clock
}

func mustCreate(t testing.TB, s *Service, name, password string, role Role) *User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Username: name, Password: password, Role: role, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	return u
}
