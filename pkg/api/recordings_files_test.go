package api

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

func filesQuery(p string) string { return "?path=" + url.QueryEscape(p) }

// TestRecordingFileCheck: the shape of GET /api/recordings/files/check and
// its refusals (no path, a relative one, one outside the storage directory).
func TestRecordingFileCheck(t *testing.T) {
	e := newTagsEnv(t)
	path := recordingPathOf(t, e.authEnv, e.recs["front"])
	r := e.call(e.free, "GET", "/api/recordings/files/check"+filesQuery(path), "")
	expectStatus(t, r, 200, "check a recording's file")
	got := r.json(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got["exists"] != true || got["size"] != float64(fi.Size()) || got["mtime"] != float64(fi.ModTime().Unix()) {
		t.Errorf("check: %v, want exists, size %d, mtime %d", got, fi.Size(), fi.ModTime().Unix())
	}
	r = e.call(e.free, "GET", "/api/recordings/files/check"+filesQuery(filepath.Join(e.cfg.Storage.Path, "mp4", "nothing.mp4")), "")
	expectStatus(t, r, 200, "check a missing file")
	if got := r.json(t); got["exists"] != false || got["size"] != float64(0) || got["mtime"] != float64(0) {
		t.Errorf("missing file: %v", got)
	}
	for q, want := range map[string]int{"": 400, "?path=mp4/front/recording_1.mp4": 400,
		filesQuery("/etc/passwd"): 403, filesQuery(e.cfg.Storage.Path + "/../x"): 403} {
		r := e.call(e.free, "GET", "/api/recordings/files/check"+q, "")
		expectStatus(t, r, want, "check "+q)
		expectErrorBody(t, r)
	}
}

func recordingPathOf(t *testing.T, e *authEnv, id int64) string {
	t.Helper()
	r, err := db.GetRecording(context.Background(), e.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return r.FilePath
}

// TestRecordingFileDelete: DELETE /api/recordings/files deletes a
// recording by its file through the storage controller, and nothing else:
// not a file outside the storage directory (directly or through a symlink),
// not a file inside it that is no recording's, not a protected recording.
func TestRecordingFileDelete(t *testing.T) {
	e := newTagsEnv(t)
	outside := filepath.Join(t.TempDir(), "precious.txt")
	stray := filepath.Join(e.cfg.Storage.Path, "mp4", "front", "stray.mp4")
	link := filepath.Join(e.cfg.Storage.Path, "mp4", "front", "link.mp4")
	for _, p := range []string{outside, stray} {
		if err := os.WriteFile(p, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	del := func(as req, p string) *resp { return e.call(as, "DELETE", "/api/recordings/files"+filesQuery(p), "") }
	for p, want := range map[string]int{outside: 403, link: 403, stray: 404, "/etc/passwd": 403} {
		r := del(e.free, p)
		expectStatus(t, r, want, "delete "+p)
		expectErrorBody(t, r)
	}
	expectStatus(t, e.call(e.free, "DELETE", "/api/recordings/files", ""), 400, "delete without a path")
	for _, p := range []string{outside, stray} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s went: %v", p, err)
		}
	}

	kitchen := recordingPathOf(t, e.authEnv, e.recs["kitchen"])
	expectStatus(t, del(e.restricted, kitchen), 403, "a recording outside the user's tags")
	bare := recordingPathOf(t, e.authEnv, e.recs["bare"])
	if _, err := db.SetRecordingProtected(context.Background(), e.db, []int64{e.recs["bare"]}, true); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, del(e.free, bare), 409, "a protected recording")
	for _, p := range []string{kitchen, bare} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s went: %v", p, err)
		}
	}

	front := recordingPathOf(t, e.authEnv, e.recs["front"])
	r := del(e.restricted, front)
	expectStatus(t, r, 200, "a recording's file")
	if got := r.json(t); got["success"] != true || got["existed"] != true {
		t.Errorf("delete: %v", got)
	}
	if _, err := os.Stat(front); !os.IsNotExist(err) {
		t.Errorf("file still there: %v", err)
	}
	if _, err := db.GetRecording(context.Background(), e.db, e.recs["front"]); err == nil {
		t.Error("row still there")
	}
	r = del(e.free, front)
	expectStatus(t, r, 200, "a file already gone")
	if got := r.json(t); got["success"] != true || got["existed"] != false {
		t.Errorf("delete again: %v", got)
	}
}

// TestRecordingSync: POST /api/recordings/sync corrects the sizes of rows
// whose file changed, and only those.
func TestRecordingSync(t *testing.T) {
	e := newTagsEnv(t)
	path := recordingPathOf(t, e.authEnv, e.recs["kitchen"])
	if err := os.WriteFile(path, make([]byte, 12345), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 0} {
		r := e.call(e.free, "POST", "/api/recordings/sync", "")
		expectStatus(t, r, 200, "sync")
		got := r.json(t)
		if got["success"] != true || got["message"] != "Recording sync complete" || got["updated"] != want {
			t.Errorf("sync %d: %v, want updated %v", i, got, want)
		}
	}
	var size int64
	if err := e.rawSQL().QueryRow(`SELECT size_bytes FROM recordings WHERE id = ?`, e.recs["kitchen"]).Scan(&size); err != nil || size != 12345 {
		t.Errorf("size after sync %d (%v), want 12345", size, err)
	}
}

// TestRouterRefusesShadowedRoute: a fixed route registered after a
// parameterised one that takes all its paths would never be reached; the
// route table refuses it at start rather than route it wrong.
func TestRouterRefusesShadowedRoute(t *testing.T) {
	var r router
	r.add("DELETE", "/api/recordings/{id}", auth.AccessOperator, nil)
	r.add("GET", "/api/recordings/files", auth.AccessOperator, nil) // another method: fine
	defer func() {
		if recover() == nil {
			t.Error("DELETE /api/recordings/files after DELETE /api/recordings/{id} was accepted")
		}
	}()
	r.add("DELETE", "/api/recordings/files", auth.AccessOperator, nil)
}
