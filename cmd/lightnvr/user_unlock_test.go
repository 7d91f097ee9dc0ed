package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// The console is another process than the daemon: `lightnvr user unlock`
// must end a lockout the running daemon enforces.
func TestUserUnlockEndsDaemonLockout(t *testing.T) {
	ctx := context.Background()
	cfg, run := userConsole(t)
	if out, err := run("admin-password\n", "add", "admin", "-role", "admin"); err != nil {
		t.Fatalf("add: %v %s", err, out)
	}

	// The daemon's auth service, on its own connection to the database.
	d, err := db.Open(ctx, cfg.Database.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	opt, err := auth.OptionsFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opt.Enabled = true
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	daemon := auth.New(d, opt)
	login := func(pw string) error {
		_, err := daemon.Login(ctx, auth.LoginRequest{Username: "admin", Password: pw,
			Client: auth.Client{IP: netip.MustParseAddr("192.0.2.30")}})
		return err
	}
	for i := 0; i < opt.MaxAttempts; i++ {
		_ = login("wrong-password")
	}
	var rl *auth.RateLimitedError
	if err := login("admin-password"); !errors.As(err, &rl) {
		t.Fatalf("locked out address: %v, want rate limited", err)
	}
	out, err := run("", "unlock", "admin")
	if err != nil || !strings.Contains(out, "cleared") {
		t.Fatalf("unlock: %v %s", err, out)
	}
	if err := login("admin-password"); err != nil {
		t.Fatalf("login after the console unlocked: %v", err)
	}
	if out, err := run("", "unlock", "admin"); err != nil || !strings.Contains(out, "no failed logins") {
		t.Fatalf("second unlock: %v %s", err, out)
	}
}
