package main

import (
	"bytes"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// TestDaemonRestoresBackupAtNextStart: a backup of one daemon, restored on a
// fresh one over the API, is applied by the restart: the fresh daemon comes
// back with the first one's configuration, streams and users, its database
// still in its own data directory.
func TestDaemonRestoresBackupAtNextStart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	src := testkit.NewDaemon(t, "backup-source-password")
	ps := start(t, src)
	stream := map[string]any{"name": "frontdoor", "url": "rtsp://127.0.0.1:9/none", "enabled": false}
	if code, b := ps.call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}
	user := map[string]any{"username": "operator", "password": "operator-password-1", "role": "user"}
	if code, b := ps.call("POST", "/api/auth/users", user); code != http.StatusOK {
		t.Fatalf("add user: %d %s", code, b)
	}
	code, archive := ps.call("POST", "/api/system/backup", nil)
	if code != http.StatusOK {
		t.Fatalf("backup: %d %s", code, archive)
	}
	stopDaemon(t, ps.DaemonProc)

	dst := testkit.NewDaemon(t, "fresh-daemon-password")
	pd := start(t, dst)
	if code, b := pd.send("POST", "/api/system/restore", bytes.NewReader(archive), "application/zip"); code != http.StatusOK {
		t.Fatalf("restore: %d %s", code, b)
	}
	// The route streams its body to disk, and only for an admin: anyone else
	// is refused on the headers, before the box reads a byte of it.
	big := bytes.Repeat([]byte("x"), 2<<20)
	if resp, err := http.Post(dst.Base+"/api/system/restore", "application/zip", bytes.NewReader(big)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous 2 MiB restore body: %d, want 401", resp.StatusCode)
		}
	}
	if code, b := pd.send("POST", "/api/system/restore", bytes.NewReader(big), "application/zip"); code != http.StatusBadRequest {
		t.Errorf("admin's 2 MiB garbage archive: %d %s, want 400 (read, then refused)", code, b)
	}
	if code, b := pd.call("GET", "/api/streams", nil); code != http.StatusOK || strings.Contains(string(b), "frontdoor") {
		t.Fatalf("the staged restore changed the running daemon: %d %s", code, b)
	}
	if code, b := pd.call("POST", "/api/system/restart", nil); code != http.StatusOK {
		t.Fatalf("restart: %d %s", code, b)
	}
	// Restarted with the source's configuration: its port and its admin.
	if err := testkit.WaitHTTP(src.Base+"/api/health", 60*time.Second); err != nil {
		t.Fatalf("restarted daemon does not answer on the restored port: %v\n%s", err, pd.Log.String())
	}
	jar, _ := cookiejar.New(nil)
	restored := &daemonProc{DaemonProc: pd.DaemonProc, t: t, d: src, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	if code, b := restored.call("POST", "/api/auth/login", map[string]string{"username": "admin", "password": src.Password}); code != http.StatusOK {
		t.Fatalf("login with the restored admin: %d %s", code, b)
	}
	if code, b := restored.call("GET", "/api/streams", nil); code != http.StatusOK || !strings.Contains(string(b), `"frontdoor"`) {
		t.Errorf("restored streams: %d %s", code, b)
	}
	if code, b := restored.call("GET", "/api/auth/users", nil); code != http.StatusOK || !strings.Contains(string(b), `"operator"`) {
		t.Errorf("restored users: %d %s", code, b)
	}
	for _, kept := range []string{dst.INI + ".before-restore", dst.Dir + "/lightnvr.db.before-restore"} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("the replaced file is not kept: %v", err)
		}
	}
	if ini, _ := os.ReadFile(dst.INI); !strings.Contains(string(ini), "path = "+dst.Dir+"/lightnvr.db") {
		t.Errorf("the restored configuration does not keep the database in this daemon's directory:\n%s", ini)
	}
}
