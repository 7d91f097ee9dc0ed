package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
)

// userConsole is `lightnvr user` on a fresh data directory: run feeds stdin
// and returns what the command printed.
func userConsole(t *testing.T) (cfg *config.Config, run func(stdin string, args ...string) (string, error)) {
	t.Helper()
	cfg = config.Default()
	cfg.Database.Path = filepath.Join(t.TempDir(), "data", "lightnvr.db")
	return cfg, func(stdin string, args ...string) (string, error) {
		var out, errb strings.Builder
		err := userCommand(context.Background(), cfg, args, strings.NewReader(stdin), &out, &errb)
		return out.String() + errb.String(), err
	}
}

func TestUserCommand(t *testing.T) {
	ctx := context.Background()
	cfg, run := userConsole(t)

	if out, err := run("console-password\n", "add", "ops", "-role", "viewer"); err != nil {
		t.Fatalf("add: %v %s", err, out)
	}
	if out, err := run("short\n", "add", "weak"); err == nil {
		t.Fatalf("short password accepted: %s", out)
	}
	out, err := run("", "list")
	if err != nil || !strings.Contains(out, "ops") || !strings.Contains(out, "viewer") || strings.Contains(out, "weak") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run("", "passwd", "-random", "ops")
	if err != nil || !strings.Contains(out, "password: ") {
		t.Fatalf("passwd: %v %s", err, out)
	}
	if out, err := run("", "disable", "ops"); err != nil {
		t.Fatalf("disable: %v %s", err, out)
	}
	if _, err := run("", "disable", "nobody"); err == nil {
		t.Fatal("disabling a missing user succeeded")
	}
	if _, err := run("", "frobnicate", "ops"); err == nil {
		t.Fatal("unknown command succeeded")
	}

	d, err := db.Open(ctx, cfg.Database.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u, err := d.UserByUsername(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if u.IsActive || u.Role != 2 || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored user %+v", u)
	}
}
