package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/testkit"
)

// The first start without [web] password leaves the generated admin
// password in a file; changing that password over the API removes it.
func TestInitialPasswordFileGoesWithAPIPasswordChange(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon test")
	}
	d := testkit.NewDaemon(t, "") // no [web] password: a generated one
	d.Start()
	file := filepath.Join(d.Dir, auth.InitialPasswordFile)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("first start wrote no initial password file: %v", err)
	}
	user, pw, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		t.Fatalf("%s holds %q, want user:password", file, b)
	}
	jar, _ := cookiejar.New(nil)
	p := &daemonProc{t: t, d: d, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	if code, b := p.call("POST", "/api/auth/login", map[string]string{"username": user, "password": pw}); code != http.StatusOK {
		t.Fatalf("login with the file's password: %d %s", code, b)
	}
	code, body := p.call("GET", "/api/auth/verify", nil)
	var me struct {
		ID int64 `json:"id"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &me) != nil || me.ID == 0 {
		t.Fatalf("GET /api/auth/verify: %d %s", code, body)
	}
	if code, b := p.call("PUT", fmt.Sprintf("/api/auth/users/%d/password", me.ID),
		map[string]string{"old_password": pw, "new_password": "changed-after-install"}); code != http.StatusOK {
		t.Fatalf("change password: %d %s", code, b)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("%s still there after the admin changed the password (stat: %v)", file, err)
	}
}

// `lightnvr user passwd` for the user the file names removes it; for
// anyone else it stays.
func TestInitialPasswordFileGoesWithConsolePasswd(t *testing.T) {
	ctx := context.Background()
	cfg, run := userConsole(t)
	cfg.Web.Username, cfg.Web.Password = "admin", ""
	dir := filepath.Dir(cfg.Database.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conn := testkit.OpenDB(t, cfg.Database.Path)
	if err := auth.Bootstrap(ctx, conn, cfg, dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, auth.InitialPasswordFile)
	if out, err := run("ops-password\n", "add", "ops"); err != nil {
		t.Fatalf("add: %v %s", err, out)
	}
	if out, err := run("", "passwd", "-random", "ops"); err != nil {
		t.Fatalf("passwd ops: %v %s", err, out)
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("another user's new password removed the admin's file: %v", err)
	}
	if out, err := run("", "passwd", "-random", "admin"); err != nil {
		t.Fatalf("passwd admin: %v %s", err, out)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("%s still there after `user passwd admin` (stat: %v)", file, err)
	}
}
