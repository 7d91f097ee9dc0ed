package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"lightnvr/pkg/config"
	"lightnvr/pkg/testkit"
)

// An unexpected failure answers 500 with a message naming what failed. The
// error itself, which may name files, queries and addresses, goes to the log
// only.
func TestInternalErrorsAreNotEchoed(t *testing.T) {
	const internal = "database is closed" // what database/sql says
	d := testkit.OpenDB(t, "")
	var logged bytes.Buffer
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	srv, err := New(Deps{Config: cfg, DB: d, Logger: slog.New(slog.NewTextHandler(&logged, nil)), Auth: streamTestAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{"/api/streams", "list streams failed"},
		{"/api/streams/cam", "load stream failed"},
		{"/api/streams/cam/retention", "read stream retention failed"},
		{"/api/recordings", "count recordings failed"},
		{"/api/setup/status", "read setup status failed"},
	} {
		code, body := call(srv, "admin", "GET", c.path, "")
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil || code != 500 || got["error"] != c.want {
			t.Errorf("GET %s: %d %s, want 500 {\"error\":%q}", c.path, code, body, c.want)
		}
		if bytes.Contains(body, []byte(internal)) {
			t.Errorf("GET %s echoes the internal error: %s", c.path, body)
		}
	}
	if !strings.Contains(logged.String(), internal) {
		t.Errorf("the internal error was not logged:\n%s", logged.String())
	}

	// Authentication failing inside (not a wrong password) is the same.
	e := newAuthEnv(t, envOpts{})
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.do(req{method: "GET", path: "/api/streams", basic: [2]string{"admin", "whatever"}})
	if r.status != 500 || bytes.Contains(r.body, []byte(internal)) || !bytes.Contains(r.body, []byte("authentication failed")) {
		t.Errorf("authentication with the database gone: %d %s, want 500 without the internal error", r.status, r.body)
	}
}
