package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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

// tagsEnv has three streams ("front" tagged outdoor, "kitchen" indoor,
// "bare" none), one recording of each, and a user restricted to outdoor.
type tagsEnv struct {
	*authEnv
	restricted, free req
	recs             map[string]int64 // stream → recording id
}

func newTagsEnv(t *testing.T) *tagsEnv {
	t.Helper()
	e := &tagsEnv{authEnv: newAuthEnv(t, envOpts{}), recs: map[string]int64{}}
	ctx := context.Background()
	for name, tags := range map[string]string{"front": "garage, outdoor", "kitchen": "indoor", "bare": ""} {
		s := db.NewStream(name, "rtsp://192.0.2.1/"+name)
		s.Tags = tags
		if err := db.InsertStream(ctx, e.db, s); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(e.cfg.Storage.Path, "mp4", name, "recording_1.mp4")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("not really mp4"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now().Add(-time.Hour).Unix()
		id, err := db.InsertRecording(ctx, e.db, &db.Recording{StreamName: name, FilePath: path, StartTime: start})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteRecording(ctx, e.db, id, db.RecordingEnd{EndTime: start + 30, SizeBytes: 14}); err != nil {
			t.Fatal(err)
		}
		e.recs[name] = id
	}
	tags := " outdoor ,porch"
	u, err := e.svc.CreateUser(ctx, auth.NewUser{Username: "tagged", Password: "tagged-password-1", Role: auth.RoleUser,
		Active: true, AllowedTags: &tags})
	if err != nil {
		t.Fatal(err)
	}
	e.restricted = e.signIn(u, "tagged-password-1")
	e.free = e.signIn(e.addUser("untagged", "untagged-password-1", auth.RoleUser), "untagged-password-1")
	return e
}

func (e *tagsEnv) call(as req, method, path, body string) *resp {
	e.t.Helper()
	as.method, as.path, as.body = method, path, body
	as.headers = map[string]string{"X-Requested-With": "XMLHttpRequest"} // as the UI sends
	return e.do(as)
}

// TestAllowedTagsFilterLists: a user with allowed_tags lists only the
// streams sharing a tag, and only their recordings, whatever stream the
// query names; a user without sees all.
func TestAllowedTagsFilterLists(t *testing.T) {
	e := newTagsEnv(t)
	names := func(r *resp, key string) []string {
		t.Helper()
		expectStatus(t, r, 200, "list")
		var out []string
		if key == "" {
			var rows []map[string]any
			if err := json.Unmarshal(r.body, &rows); err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				out = append(out, row["name"].(string))
			}
		} else {
			for _, row := range r.json(t)["recordings"].([]any) {
				out = append(out, row.(map[string]any)[key].(string))
			}
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		as        req
		path, key string
		want      string
	}{
		{e.restricted, "/api/streams", "", "front"},
		{e.free, "/api/streams", "", "bare front kitchen"},
		{e.restricted, "/api/recordings", "stream", "front"},
		{e.restricted, "/api/recordings?stream=kitchen", "stream", ""},
		{e.restricted, "/api/recordings?stream=kitchen,front", "stream", "front"},
		{e.free, "/api/recordings", "stream", "bare front kitchen"},
	} {
		if got := strings.Join(names(e.call(c.as, "GET", c.path, ""), c.key), " "); got != c.want {
			t.Errorf("GET %s: %q, want %q", c.path, got, c.want)
		}
	}
}

// TestAllowedTagsGuardEveryStreamRoute calls every route that names a
// stream or a recording in its path, for a stream outside the user's tags:
// each answers 403 (an unknown stream is still 404), and nothing changed.
func TestAllowedTagsGuardEveryStreamRoute(t *testing.T) {
	e := newTagsEnv(t)
	var checked int
	for _, rt := range e.srv.Routes() {
		if scopeOf(rt.Pattern) == scopeNone {
			continue
		}
		path := strings.NewReplacer("{name}", "kitchen", "{stream}", "kitchen", "{file}", "1.jpg",
			"{id}", fmt.Sprint(e.recs["kitchen"]), "{path...}", "api/frame.jpeg").Replace(rt.Pattern)
		if scopeOf(rt.Pattern) == scopeQuery {
			path += "?stream=kitchen&src=kitchen_sub"
		}
		r := e.call(e.restricted, rt.Method, path, "{}")
		if r.status != 403 {
			t.Errorf("%s %s as a user without the stream's tags: %d %s", rt.Method, path, r.status, r.body)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d per-stream routes found", checked)
	}
	expectStatus(t, e.call(e.restricted, "GET", "/api/streams/front", ""), 200, "a stream sharing a tag")
	expectStatus(t, e.call(e.restricted, "GET", fmt.Sprintf("/api/recordings/%d", e.recs["front"]), ""), 200,
		"a recording of a stream sharing a tag")
	expectStatus(t, e.call(e.restricted, "GET", "/api/streams/nosuch", ""), 404, "an unknown stream")
	expectStatus(t, e.call(e.restricted, "GET", "/api/recordings/999999", ""), 404, "an unknown recording")
	expectStatus(t, e.call(e.restricted, "GET", "/api/recordings/x", ""), 400, "a malformed id")
	expectStatus(t, e.call(e.free, "GET", "/api/streams/kitchen", ""), 200, "an unrestricted user")
	if _, err := db.GetRecording(context.Background(), e.db, e.recs["kitchen"]); err != nil {
		t.Errorf("the kitchen recording went: %v", err)
	}
}

// TestAllowedTagsBatchDelete: a batch delete by ids or by filter from a
// restricted user leaves the recordings of streams outside their tags.
func TestAllowedTagsBatchDelete(t *testing.T) {
	e := newTagsEnv(t)
	for _, body := range []string{
		fmt.Sprintf(`{"ids":[%d,%d]}`, e.recs["kitchen"], e.recs["bare"]),
		`{"filter":{"stream":"kitchen,bare"}}`,
		`{"filter":{"start":"2000-01-01T00:00:00Z"}}`,
	} {
		r := e.call(e.restricted, "POST", "/api/recordings/batch-delete", body)
		expectStatus(t, r, 202, body)
		job := r.json(t)["job_id"].(string)
		for deadline := time.Now().Add(20 * time.Second); ; {
			p := e.call(e.restricted, "GET", "/api/recordings/batch-delete/progress/"+job, "").json(t)
			if p["complete"] == true {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: job never completed: %v", body, p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, name := range []string{"kitchen", "bare"} {
		if _, err := db.GetRecording(context.Background(), e.db, e.recs[name]); err != nil {
			t.Errorf("%s's recording deleted by a user without its tags: %v", name, err)
		}
	}
	if _, err := db.GetRecording(context.Background(), e.db, e.recs["front"]); err == nil {
		t.Error("front's recording was not deleted by the filter that covers it")
	}
}

// TestAllowedTagsTimelineByIDs: segments by ids name recordings, not a
// stream; a restricted user gets only those of their streams.
func TestAllowedTagsTimelineByIDs(t *testing.T) {
	e := newTagsEnv(t)
	path := fmt.Sprintf("/api/timeline/segments-by-ids?ids=%d,%d", e.recs["front"], e.recs["kitchen"])
	for as, want := range map[*req]float64{&e.restricted: 1, &e.free: 2} {
		r := e.call(*as, "GET", path, "")
		expectStatus(t, r, 200, "segments by ids")
		if n := r.json(t)["segment_count"]; n != want {
			t.Errorf("segment_count %v, want %v", n, want)
		}
	}
}
