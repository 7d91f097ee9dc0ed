package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// recEnv is a real server and database with one user per role, each
// calling through HTTP Basic (the API role through its key).
type recEnv struct {
	*authEnv
	apiKey string
}

func newRecEnv(t *testing.T) *recEnv {
	t.Helper()
	return newRecEnvWith(t, envOpts{})
}

func newRecEnvWith(t *testing.T, o envOpts) *recEnv {
	t.Helper()
	e := newAuthEnv(t, o)
	e.addUser("admin", "admin-pass", auth.RoleAdmin)
	e.addUser("user", "user-pass", auth.RoleUser)
	e.addUser("viewer", "viewer-pass", auth.RoleViewer)
	api := e.addUser("script", "script-pass", auth.RoleAPI)
	return &recEnv{authEnv: e, apiKey: e.apiKeyFor(api.ID)}
}

// as sends a request as the named role.
func (e *recEnv) as(role string, r req) *resp {
	e.t.Helper()
	if role == "api" {
		r.apiKey = e.apiKey
	} else {
		r.basic = [2]string{role, role + "-pass"}
	}
	return e.do(r)
}

// addFile writes data under the storage directory and inserts a complete
// recordings row for it.
func (e *recEnv) addFile(rel string, data []byte) (int64, string) {
	e.t.Helper()
	p := filepath.Join(e.cfg.Storage.Path, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return e.addRow(p, int64(len(data)), true), p
}

func (e *recEnv) addRow(path string, size int64, complete bool) int64 {
	e.t.Helper()
	ctx := context.Background()
	id, err := db.InsertRecording(ctx, e.db, &db.Recording{StreamName: "cam", FilePath: path, StartTime: 1_772_366_400, SizeBytes: size})
	if err != nil {
		e.t.Fatal(err)
	}
	if complete {
		if err := db.CompleteRecording(ctx, e.db, id, db.RecordingEnd{EndTime: 1_772_366_460, SizeBytes: size}); err != nil {
			e.t.Fatal(err)
		}
	}
	return id
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRecordingPlayRanges(t *testing.T) {
	e := newRecEnv(t)
	data := randomBytes(100_000)
	id, _ := e.addFile("mp4/cam/2026/03/01/recording_20260301_120000.mp4", data)
	path := "/api/recordings/play/" + strconv.FormatInt(id, 10)
	size := int64(len(data))

	full := e.as("viewer", req{method: "GET", path: path})
	expectStatus(t, full, 200, "play without Range")
	if !bytes.Equal(full.body, data) {
		t.Fatalf("full body differs from the file (%d bytes, want %d)", len(full.body), len(data))
	}
	if got := string(full.header.Peek("Accept-Ranges")); got != "bytes" {
		t.Errorf("Accept-Ranges %q", got)
	}
	if got := string(full.header.ContentType()); got != "video/mp4" {
		t.Errorf("Content-Type %q", got)
	}
	etag := string(full.header.Peek("ETag"))
	if etag == "" {
		t.Fatal("no ETag")
	}

	cases := []struct {
		rng        string
		start, end int64 // inclusive
	}{
		{"bytes=0-0", 0, 0},
		{"bytes=0-1023", 0, 1023},
		{"bytes=40000-40999", 40000, 40999},
		{"bytes=99999-99999", 99999, 99999},
		{"bytes=95000-", 95000, size - 1},
		{"bytes=-500", size - 500, size - 1},
		{"bytes=-200000", 0, size - 1},           // suffix longer than the file: all of it
		{"bytes=90000-5000000", 90000, size - 1}, // end past the file: clamped
		{"bytes = 10-19", 10, 19},
	}
	for _, c := range cases {
		r := e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": c.rng}})
		expectStatus(t, r, 206, c.rng)
		if !bytes.Equal(r.body, data[c.start:c.end+1]) {
			t.Errorf("%s: body of %d bytes differs from file bytes %d-%d", c.rng, len(r.body), c.start, c.end)
		}
		want := fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, size)
		if got := string(r.header.Peek("Content-Range")); got != want {
			t.Errorf("%s: Content-Range %q, want %q", c.rng, got, want)
		}
		if got := r.header.ContentLength(); int64(got) != c.end-c.start+1 {
			t.Errorf("%s: Content-Length %d", c.rng, got)
		}
	}

	for _, bad := range []string{"bytes=100000-", "bytes=200000-300000", "bytes=-0", "bytes=500-100", "bytes=abc-def", "bytes=1-2-3", "bytes=-"} {
		r := e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": bad}})
		expectStatus(t, r, 416, bad)
		expectErrorBody(t, r)
		if got := string(r.header.Peek("Content-Range")); got != "bytes */100000" {
			t.Errorf("%s: Content-Range %q", bad, got)
		}
	}

	// Multi-range and foreign units are answered with the whole file.
	for _, h := range []string{"bytes=0-9,20-29", "items=0-5"} {
		r := e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": h}})
		expectStatus(t, r, 200, h)
		if !bytes.Equal(r.body, data) {
			t.Errorf("%s: body is not the whole file", h)
		}
	}

	// Validators.
	r := e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"If-None-Match": etag}})
	expectStatus(t, r, 304, "If-None-Match with the current ETag")
	if len(r.body) != 0 {
		t.Errorf("304 with a body of %d bytes", len(r.body))
	}
	r = e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"If-None-Match": `"other"`}})
	expectStatus(t, r, 200, "If-None-Match with another ETag")
	r = e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": "bytes=0-9", "If-Range": etag}})
	expectStatus(t, r, 206, "If-Range with the current ETag")
	r = e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`}})
	expectStatus(t, r, 200, "If-Range with a stale ETag")
	if !bytes.Equal(r.body, data) {
		t.Error("If-Range mismatch did not send the whole file")
	}

	// Download: same bytes, as an attachment.
	r = e.as("viewer", req{method: "GET", path: "/api/recordings/download/" + strconv.FormatInt(id, 10), headers: map[string]string{"Range": "bytes=10-19"}})
	expectStatus(t, r, 206, "download range")
	if !bytes.Equal(r.body, data[10:20]) {
		t.Error("download range bytes differ")
	}
	if got := string(r.header.Peek("Content-Disposition")); got != `attachment; filename="recording_20260301_120000.mp4"` {
		t.Errorf("Content-Disposition %q", got)
	}

	// The file changes: the ETag changes with it.
	if err := os.WriteFile(filepath.Join(e.cfg.Storage.Path, "mp4/cam/2026/03/01/recording_20260301_120000.mp4"), data[:5000], 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"If-None-Match": etag}})
	expectStatus(t, r, 200, "If-None-Match after the file changed")
	if len(r.body) != 5000 {
		t.Errorf("changed file: %d bytes", len(r.body))
	}

	// Without credentials: nothing.
	expectStatus(t, e.do(req{method: "GET", path: path}), 401, "anonymous play")
}

func TestRecordingPlayGrowingSegment(t *testing.T) {
	e := newRecEnv(t)
	p := filepath.Join(e.cfg.Storage.Path, "mp4", "cam", "growing.mp4")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(30_000)
	if err := os.WriteFile(p, data[:10_000], 0o644); err != nil {
		t.Fatal(err)
	}
	id := e.addRow(p, 0, false)
	path := "/api/recordings/play/" + strconv.FormatInt(id, 10)
	r := e.as("viewer", req{method: "GET", path: path})
	expectStatus(t, r, 200, "play while writing")
	if !bytes.Equal(r.body, data[:10_000]) {
		t.Fatalf("growing file: %d bytes served", len(r.body))
	}
	first := string(r.header.Peek("ETag"))
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data[10_000:]); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	r = e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": "bytes=9990-", "If-None-Match": first}})
	expectStatus(t, r, 206, "range into the grown part")
	if !bytes.Equal(r.body, data[9990:]) {
		t.Fatalf("grown part: %d bytes", len(r.body))
	}
	if got := string(r.header.Peek("Content-Range")); got != "bytes 9990-29999/30000" {
		t.Errorf("Content-Range %q", got)
	}
	// Still being written: cannot be deleted.
	r = e.as("admin", req{method: "DELETE", path: "/api/recordings/" + strconv.FormatInt(id, 10)})
	expectStatus(t, r, 409, "delete while writing")
}

// TestRecordingPlayFFprobe plays a real fragmented MP4 through the API and
// checks ffprobe reads what came back, whole and as a byte-range copy.
func TestRecordingPlayFFprobe(t *testing.T) {
	ff := testkit.Need(t, "ffmpeg")
	testkit.Need(t, "ffprobe")
	e := newRecEnv(t)
	src := filepath.Join(e.cfg.Storage.Path, "mp4", "cam", "2026", "03", "01", "recording_20260301_120000.mp4")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+frag_keyframe+empty_moov", src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	id := e.addRow(src, int64(len(data)), true)
	path := "/api/recordings/play/" + strconv.FormatInt(id, 10)
	r := e.as("viewer", req{method: "GET", path: path})
	expectStatus(t, r, 200, "play mp4")
	// Fetch it again in two ranges the way a player seeks, and join them.
	half := len(data) / 2
	a := e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": "bytes=0-" + strconv.Itoa(half-1)}})
	b := e.as("viewer", req{method: "GET", path: path, headers: map[string]string{"Range": "bytes=" + strconv.Itoa(half) + "-"}})
	expectStatus(t, a, 206, "first half")
	expectStatus(t, b, 206, "second half")
	joined := append(append([]byte(nil), a.body...), b.body...)
	if !bytes.Equal(joined, data) || !bytes.Equal(r.body, data) {
		t.Fatal("served bytes differ from the file")
	}
	out := filepath.Join(t.TempDir(), "played.mp4")
	if err := os.WriteFile(out, joined, 0o644); err != nil {
		t.Fatal(err)
	}
	p := testkit.FFprobe(t, out)
	if p.Errors != "" {
		t.Errorf("ffprobe errors: %s", p.Errors)
	}
	if len(p.Streams) != 1 || p.Streams[0].CodecName != "h264" || p.Streams[0].Width != 320 || p.Streams[0].Height != 240 {
		t.Errorf("ffprobe streams: %+v", p.Streams)
	}
	if d := p.Duration(); d < 2.9 || d > 3.1 {
		t.Errorf("duration %.2f s, want 3", d)
	}
}

func TestRecordingBadIDs(t *testing.T) {
	e := newRecEnv(t)
	id, _ := e.addFile("mp4/cam/a.mp4", []byte("0123456789"))
	_ = id
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/api/recordings/abc", 400},
		{"GET", "/api/recordings/-1", 400},
		{"GET", "/api/recordings/0", 400},
		{"GET", "/api/recordings/1.5", 400},
		{"GET", "/api/recordings/99999999999999999999", 400},
		{"GET", "/api/recordings/999", 404},
		{"GET", "/api/recordings/play/abc", 400},
		{"GET", "/api/recordings/play/999", 404},
		{"GET", "/api/recordings/download/-3", 400},
		{"GET", "/api/recordings/download/999", 404},
		{"DELETE", "/api/recordings/x", 400},
		{"DELETE", "/api/recordings/999", 404},
		{"PUT", "/api/recordings/999/protect", 404},
		{"PUT", "/api/recordings/999/retention", 404},
		{"GET", "/api/recordings/batch-delete/progress/nope", 404},
	} {
		body := ""
		switch {
		case c.method == "PUT" && filepath.Base(c.path) == "protect":
			body = `{"protected":true}`
		case c.method == "PUT":
			body = `{"retention_days":3}`
		}
		r := e.as("admin", req{method: c.method, path: c.path, body: body})
		expectStatus(t, r, c.want, c.method+" "+c.path)
		expectErrorBody(t, r)
	}
	// The file is gone but the row is there: 404 for the file.
	id2 := e.addRow(filepath.Join(e.cfg.Storage.Path, "mp4", "cam", "missing.mp4"), 10, true)
	r := e.as("viewer", req{method: "GET", path: "/api/recordings/play/" + strconv.FormatInt(id2, 10)})
	expectStatus(t, r, 404, "play of a missing file")
}

func TestRecordingOutsideStorageRefused(t *testing.T) {
	e := newRecEnv(t)
	outside := filepath.Join(t.TempDir(), "secret.mp4")
	if err := os.WriteFile(outside, []byte("not yours"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the storage directory pointing out of it.
	link := filepath.Join(e.cfg.Storage.Path, "mp4", "cam", "link.mp4")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{
		"absolute outside": e.addRow(outside, 9, true),
		"dot-dot":          e.addRow(filepath.Join(e.cfg.Storage.Path, "..", filepath.Base(filepath.Dir(outside)), "secret.mp4"), 9, true),
		"relative":         e.addRow("mp4/cam/x.mp4", 9, true),
		"symlink":          e.addRow(link, 9, true),
	}
	for name, id := range rows {
		sid := strconv.FormatInt(id, 10)
		for _, p := range []string{"/api/recordings/play/", "/api/recordings/download/"} {
			r := e.as("admin", req{method: "GET", path: p + sid})
			if r.status != 403 && r.status != 404 {
				t.Errorf("%s: GET %s: %d %s", name, p, r.status, r.body)
			}
			if bytes.Contains(r.body, []byte("not yours")) {
				t.Fatalf("%s: served a file outside storage", name)
			}
		}
		r := e.as("admin", req{method: "DELETE", path: "/api/recordings/" + sid})
		expectStatus(t, r, 403, name+": delete")
		if _, err := db.GetRecording(context.Background(), e.db, id); err != nil {
			t.Errorf("%s: row gone after refused delete: %v", name, err)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "not yours" {
		t.Fatalf("outside file touched: %v", err)
	}
	// Batch deletion refuses them too.
	ids := []int64{}
	for _, id := range rows {
		ids = append(ids, id)
	}
	job := e.batchDelete(t, "admin", map[string]any{"ids": ids})
	if job.Succeeded != 0 || job.Failed != int64(len(ids)) {
		t.Errorf("batch delete of outside rows: %+v", job)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("outside file removed by batch delete: %v", err)
	}
}

func TestRecordingDeleteThroughGarbage(t *testing.T) {
	e := newRecEnv(t)
	ctx := context.Background()
	id, p := e.addFile("mp4/cam/2026/03/01/recording_20260301_120000.mp4", []byte("segment"))
	sid := strconv.FormatInt(id, 10)

	expectStatus(t, e.as("viewer", req{method: "DELETE", path: "/api/recordings/" + sid}), 403, "viewer delete")
	expectStatus(t, e.as("api", req{method: "DELETE", path: "/api/recordings/" + sid}), 403, "api-role delete")

	// Protected: refused until unprotected.
	r := e.as("api", req{method: "PUT", path: "/api/recordings/" + sid + "/protect", body: `{"protected":true}`})
	expectStatus(t, r, 200, "protect")
	if m := r.json(t); m["protected"] != true || m["id"] != float64(id) {
		t.Errorf("protect reply %v", m)
	}
	r = e.as("user", req{method: "DELETE", path: "/api/recordings/" + sid})
	expectStatus(t, r, 409, "delete protected")
	expectErrorBody(t, r)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("protected file removed: %v", err)
	}
	expectStatus(t, e.as("viewer", req{method: "PUT", path: "/api/recordings/" + sid + "/protect", body: `{"protected":false}`}), 403, "viewer unprotect")
	expectStatus(t, e.as("user", req{method: "PUT", path: "/api/recordings/" + sid + "/protect", body: `{"protected":false}`}), 200, "unprotect")

	// A pending garbage row of an earlier, interrupted deletion is left
	// alone by this one.
	if _, err := e.rawSQL().ExecContext(ctx, `INSERT INTO recordings_garbage (recording_id, stream_name, file_path) VALUES (424242, 'cam', '/nowhere.mp4')`); err != nil {
		t.Fatal(err)
	}
	r = e.as("user", req{method: "DELETE", path: "/api/recordings/" + sid})
	expectStatus(t, r, 200, "delete")
	if m := r.json(t); m["success"] != true {
		t.Errorf("delete reply %v", m)
	}
	if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if _, err := db.GetRecording(ctx, e.db, id); !errors.Is(err, db.ErrRecordingNotFound) {
		t.Errorf("row still there: %v", err)
	}
	g, err := db.Garbage(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 1 || g[0].RecordingID != 424242 {
		t.Errorf("garbage rows after delete: %+v", g)
	}
	expectStatus(t, e.as("user", req{method: "DELETE", path: "/api/recordings/" + sid}), 404, "second delete")
}

func TestRecordingProtectAndRetention(t *testing.T) {
	e := newRecEnv(t)
	var ids []int64
	for i := range 3 {
		id, _ := e.addFile(fmt.Sprintf("mp4/cam/r%d.mp4", i), []byte("x"))
		ids = append(ids, id)
	}
	body, _ := json.Marshal(map[string]any{"ids": []int64{ids[0], ids[1], ids[1], 999}, "protected": true})
	r := e.as("user", req{method: "POST", path: "/api/recordings/batch-protect", body: string(body)})
	expectStatus(t, r, 200, "batch-protect")
	if m := r.json(t); m["success_count"] != float64(2) || m["fail_count"] != float64(1) || m["protected"] != true {
		t.Errorf("batch-protect reply %v", m)
	}
	expectStatus(t, e.as("viewer", req{method: "POST", path: "/api/recordings/batch-protect", body: string(body)}), 403, "viewer batch-protect")
	expectStatus(t, e.as("user", req{method: "POST", path: "/api/recordings/batch-protect", body: `{"ids":[]}`}), 400, "empty ids")
	expectStatus(t, e.as("user", req{method: "POST", path: "/api/recordings/batch-protect", body: `{"ids":[1],"protected":true,"x":1}`}), 400, "unknown field")

	r = e.as("viewer", req{method: "GET", path: "/api/recordings/protected"})
	expectStatus(t, r, 200, "protected count")
	if m := r.json(t); m["protected_count"] != float64(2) {
		t.Errorf("protected count %v", m)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/recordings/protected?stream=other"})
	if m := r.json(t); m["protected_count"] != float64(0) || m["stream_name"] != "other" {
		t.Errorf("protected count of other %v", m)
	}

	sid := strconv.FormatInt(ids[2], 10)
	r = e.as("api", req{method: "PUT", path: "/api/recordings/" + sid + "/retention", body: `{"retention_days":14}`})
	expectStatus(t, r, 200, "retention")
	if m := r.json(t); m["retention_days"] != float64(14) {
		t.Errorf("retention reply %v", m)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/recordings/" + sid})
	expectStatus(t, r, 200, "get")
	m := r.json(t)
	if m["retention_override_days"] != float64(14) || m["stream"] != "cam" || m["protected"] != false || m["capture_method"] != "continuous" ||
		m["start_time"] != "2026-03-01T12:00:00Z" || m["end_time"] != "2026-03-01T12:01:00Z" || m["duration"] != float64(60) || m["size"] != "1 B" {
		t.Errorf("get reply %v", m)
	}
	if _, ok := m["tags"]; ok {
		t.Errorf("single recording carries tags: %v", m)
	}
	r = e.as("user", req{method: "PUT", path: "/api/recordings/" + sid + "/retention", body: `{"retention_days":-1}`})
	expectStatus(t, r, 200, "clear retention")
	r = e.as("viewer", req{method: "GET", path: "/api/recordings/" + sid})
	if m := r.json(t); m["retention_override_days"] != nil {
		t.Errorf("override not cleared: %v", m)
	}
	for _, bad := range []string{`{"retention_days":36501}`, `{}`, `{"retention_days":"7"}`, ``} {
		expectStatus(t, e.as("user", req{method: "PUT", path: "/api/recordings/" + sid + "/retention", body: bad}), 400, "retention "+bad)
	}
	expectStatus(t, e.as("viewer", req{method: "PUT", path: "/api/recordings/" + sid + "/retention", body: `{"retention_days":1}`}), 403, "viewer retention")
}

// batchDelete starts a batch deletion and polls its progress until done.
func (e *recEnv) batchDelete(t *testing.T, role string, body any) batchJob {
	t.Helper()
	b, _ := json.Marshal(body)
	r := e.as(role, req{method: "POST", path: "/api/recordings/batch-delete", body: string(b)})
	expectStatus(t, r, 202, "batch-delete")
	var start struct {
		JobID  string `json:"job_id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(r.body, &start); err != nil || start.JobID == "" || start.Status != "pending" {
		t.Fatalf("batch-delete reply %s", r.body)
	}
	// Poll until the job says it is complete; the bound only stops a hung job.
	for range 2000 {
		r := e.as(role, req{method: "GET", path: "/api/recordings/batch-delete/progress/" + start.JobID})
		expectStatus(t, r, 200, "progress")
		var j batchJob
		if err := json.Unmarshal(r.body, &j); err != nil {
			t.Fatal(err)
		}
		if j.ID != start.JobID {
			t.Fatalf("progress of another job: %s", r.body)
		}
		if j.Complete {
			if j.Status != "complete" || j.Current != j.Total {
				t.Fatalf("job ended %s", r.body)
			}
			return j
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("batch delete never completed")
	return batchJob{}
}

func TestRecordingBatchDelete(t *testing.T) {
	e := newRecEnv(t)
	ctx := context.Background()
	var ids []int64
	var paths []string
	for i := range 450 {
		id, p := e.addFile(fmt.Sprintf("mp4/cam/2026/03/01/r%03d.mp4", i), []byte{byte(i)})
		ids = append(ids, id)
		paths = append(paths, p)
	}
	// Ten of them protected, and one other stream's recording.
	if _, err := db.SetRecordingProtected(ctx, e.db, ids[:10], true); err != nil {
		t.Fatal(err)
	}
	otherID, otherPath := e.addFile("mp4/other/x.mp4", []byte("o"))
	if _, err := e.rawSQL().ExecContext(ctx, `UPDATE recordings SET stream_name = 'other' WHERE id = ?`, otherID); err != nil {
		t.Fatal(err)
	}

	expectStatus(t, e.as("api", req{method: "POST", path: "/api/recordings/batch-delete", body: `{"ids":[1]}`}), 403, "api-role batch delete")
	for _, bad := range []string{`{}`, `{"ids":[]}`, `{"ids":[-1]}`, `{"filter":{}}`, `{"ids":[1],"filter":{"stream":"cam"}}`,
		`{"filter":{"stream":"cam","detection":"yes"}}`, `{"filter":{"start":"yesterday"}}`, `{"filter":{"capture_method":"bogus"}}`} {
		r := e.as("admin", req{method: "POST", path: "/api/recordings/batch-delete", body: bad})
		expectStatus(t, r, 400, "batch-delete "+bad)
	}

	// By ids: 20 of them plus an unknown id.
	job := e.batchDelete(t, "user", map[string]any{"ids": append(append([]int64{}, ids[:20]...), 999_999)})
	if job.Total != 21 || job.Succeeded != 10 || job.Failed != 11 {
		t.Errorf("by ids: %+v", job)
	}
	for i, p := range paths[:20] {
		_, err := os.Stat(p)
		if i < 10 && err != nil {
			t.Errorf("protected file %d removed", i)
		}
		if i >= 10 && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("file %d not removed", i)
		}
	}

	// By filter: every remaining recording of cam, across several chunks.
	job = e.batchDelete(t, "admin", map[string]any{"filter": map[string]any{"stream_name": "cam", "detection": -1}})
	if job.Total != 440 || job.Succeeded != 430 || job.Failed != 10 {
		t.Errorf("by filter: %+v", job)
	}
	n, err := db.CountRecordingItems(ctx, e.db, db.RecordingFilter{})
	if err != nil || n != 11 {
		t.Errorf("rows left %d (%v), want 10 protected + 1 other", n, err)
	}
	if _, err := os.Stat(otherPath); err != nil {
		t.Errorf("other stream's file removed: %v", err)
	}
	g, err := db.Garbage(ctx, e.db)
	if err != nil || len(g) != 0 {
		t.Errorf("garbage left: %v %v", g, err)
	}
}

// fillGenerated inserts n recordings: stream cam<i%8>, one per minute per
// stream, every 10th detection-triggered, every 100th protected.
func fillGenerated(t *testing.T, d *db.DB, n int) {
	t.Helper()
	_, err := testkit.SQL(t, d.Path()).ExecContext(context.Background(), `INSERT INTO recordings
		(stream_name, file_path, start_time, end_time, size_bytes, is_complete, trigger_type, protected, schedule_restricted)
		WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1)
		SELECT 'cam' || (i % 8), '/x/r' || i || '.mp4', ?2 + (i / 8) * 60, ?2 + (i / 8) * 60 + 60, 1000 + (i * 7919) % 500000, 1,
			CASE WHEN i % 10 = 0 THEN 'detection' ELSE 'scheduled' END, CASE WHEN i % 100 = 0 THEN 1 ELSE 0 END, 0
		FROM seq`, n, genStart)
	if err != nil {
		t.Fatal(err)
	}
}

// genStart is 2026-01-01T00:00:00Z.
const genStart = 1_767_225_600

type listReply struct {
	Recordings []recordingJSON `json:"recordings"`
	Pagination struct {
		Page  int   `json:"page"`
		Limit int   `json:"limit"`
		Total int64 `json:"total"`
		Pages int64 `json:"pages"`
	} `json:"pagination"`
}

func TestRecordingListAPI(t *testing.T) {
	e := newRecEnv(t)
	// 100k rows; the race detector makes SQLite inserts ~50x slower, so
	// race builds use 20k (the queries are the same).
	n := int64(100_000)
	if recRaceEnabled {
		n = 20_000
	}
	fillGenerated(t, e.db, int(n))
	list := func(q string) listReply {
		t.Helper()
		r := e.as("viewer", req{method: "GET", path: "/api/recordings" + q})
		expectStatus(t, r, 200, "list "+q)
		var lr listReply
		if err := json.Unmarshal(r.body, &lr); err != nil {
			t.Fatalf("list %s: %v", q, err)
		}
		return lr
	}

	lr := list("")
	if lr.Pagination.Total != n || lr.Pagination.Page != 1 || lr.Pagination.Limit != 20 || lr.Pagination.Pages != n/20 || len(lr.Recordings) != 20 {
		t.Fatalf("default list: %+v, %d rows", lr.Pagination, len(lr.Recordings))
	}
	// Newest first by default; ties by id, descending.
	if lr.Recordings[0].ID != n || lr.Recordings[0].StartTimeUnix != genStart+(n/8)*60 {
		t.Errorf("first row %+v", lr.Recordings[0])
	}
	for i := 1; i < len(lr.Recordings); i++ {
		a, b := lr.Recordings[i-1], lr.Recordings[i]
		if a.StartTimeUnix < b.StartTimeUnix || (a.StartTimeUnix == b.StartTimeUnix && a.ID < b.ID) {
			t.Fatalf("not newest first at %d: %d then %d", i, a.ID, b.ID)
		}
	}
	if lr.Recordings[0].Tags == nil {
		t.Error("list rows lack tags")
	}

	// One stream, a time window, a deep page, ascending.
	// cam3 rows are i = 8k+3: start genStart + k*60.
	from := time.Unix(genStart+1000*60, 0).UTC()
	to := time.Unix(genStart+2999*60, 0).UTC()
	q := "?stream=cam3&start=" + from.Format("2006-01-02T15:04:05") + "&end=" + to.Format("2006-01-02T15:04:05.000Z") +
		"&sort=start_time&order=asc&limit=50&page=7"
	lr = list(q)
	if lr.Pagination.Total != min(2000, n/8-1000) || lr.Pagination.Pages != (min(2000, n/8-1000)+49)/50 || len(lr.Recordings) != 50 {
		t.Fatalf("window: %+v, %d rows", lr.Pagination, len(lr.Recordings))
	}
	for i, rec := range lr.Recordings {
		k := int64(1000 + 6*50 + i)
		if rec.Stream != "cam3" || rec.ID != 8*k+3 || rec.StartTimeUnix != genStart+k*60 {
			t.Fatalf("window row %d: %+v", i, rec)
		}
	}
	// The %3A form LightNVR tolerates.
	esc := func(t time.Time) string { return strings.ReplaceAll(t.Format(isoUTC), ":", "%3A") }
	lr = list("?stream=cam3&start=" + esc(from) + "&end=" + esc(to) + "&limit=1")
	if lr.Pagination.Total != min(2000, n/8-1000) {
		t.Errorf("escaped times: total %d", lr.Pagination.Total)
	}

	// Filters: protected, capture method, detection, several streams.
	if lr = list("?protected=1&limit=1000"); lr.Pagination.Total != n/100 || int64(len(lr.Recordings)) != min(1000, n/100) {
		t.Errorf("protected: %+v", lr.Pagination)
	}
	for _, r := range lr.Recordings {
		if !r.Protected {
			t.Fatalf("unprotected row in protected filter: %+v", r)
		}
	}
	if lr = list("?capture_method=detection&stream=cam2,cam4"); lr.Pagination.Total != n/20 {
		// i%10==0 and i%8 in {2,4}: i%40 in {10, 20} → 2 of every 40.
		t.Errorf("detection cam2,cam4: total %d", lr.Pagination.Total)
	}
	for _, r := range lr.Recordings {
		if r.CaptureMethod != "detection" || !r.HasDetection || (r.Stream != "cam2" && r.Stream != "cam4") {
			t.Fatalf("row %+v", r)
		}
	}
	if lr = list("?capture_method=continuous&has_detection=0&stream=cam1"); lr.Pagination.Total != n/8 {
		t.Errorf("continuous cam1: total %d", lr.Pagination.Total)
	}
	if lr = list("?limit=all&page=2"); lr.Pagination.Limit != 1000 || lr.Recordings[0].ID != n-1000 {
		t.Errorf("limit=all: %+v first %d", lr.Pagination, lr.Recordings[0].ID)
	}
	// Past the last page: an empty page, the total still right.
	if lr = list("?page=6000"); len(lr.Recordings) != 0 || lr.Pagination.Total != n {
		t.Errorf("past the end: %+v, %d rows", lr.Pagination, len(lr.Recordings))
	}
	// Sort by size, descending: sizes never increase.
	lr = list("?sort=size_bytes&order=desc&limit=100&page=3")
	for i := 1; i < len(lr.Recordings); i++ {
		if lr.Recordings[i-1].SizeBytes < lr.Recordings[i].SizeBytes {
			t.Fatalf("size order broken at %d", i)
		}
	}

	for _, bad := range []string{"?sort=file_path", "?sort=start_time%3BDROP%20TABLE%20recordings", "?sort=1", "?order=sideways",
		"?page=0", "?page=x", "?limit=0", "?limit=-5", "?start=yesterday", "?end=2026-13-01T00:00:00", "?protected=maybe",
		"?has_detection=2", "?capture_method=bogus", "?start=2026-02-01T00:00:00&end=2026-01-01T00:00:00"} {
		r := e.as("viewer", req{method: "GET", path: "/api/recordings" + bad})
		expectStatus(t, r, 400, "list "+bad)
		expectErrorBody(t, r)
	}
	if lr = list("?limit=1"); lr.Pagination.Total != n {
		t.Fatalf("table changed after bad queries: %d", lr.Pagination.Total)
	}
	expectStatus(t, e.do(req{method: "GET", path: "/api/recordings"}), 401, "anonymous list")
}
