package api

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// batchDownload POSTs ids as role, waits for the job to leave pending and
// running, and returns its token and last status.
func batchDownload(t *testing.T, e *recEnv, role string, ids []int64, filename string) (string, map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"ids": ids, "filename": filename})
	if err != nil {
		t.Fatal(err)
	}
	r := e.as(role, req{method: "POST", path: "/api/recordings/batch-download", body: string(body)})
	expectStatus(t, r, 202, "batch download")
	token, _ := r.json(t)["token"].(string)
	if token == "" {
		t.Fatalf("no token: %s", r.body)
	}
	var st map[string]any
	testkit.WaitFor(t, 10*time.Second, "the batch download checked", func() bool {
		s := e.as(role, req{method: "GET", path: "/api/recordings/batch-download/status/" + token})
		expectStatus(t, s, 200, "status")
		st = s.json(t)
		return st["status"] == "complete" || st["status"] == "error"
	})
	return token, st
}

// TestBatchDownloadZip: LightNVR's three steps give one stored ZIP whose
// files are the recordings' bytes; the token serves its owner once.
func TestBatchDownloadZip(t *testing.T) {
	e, recs := newRecordedEnv(t, 3)
	ids := []int64{recs[0].ID, recs[1].ID, recs[2].ID, 999999}
	token, st := batchDownload(t, e, "viewer", ids, "my clips")
	if st["status"] != "complete" || st["current"] != float64(3) || st["total"] != float64(3) || st["skipped"] != float64(0) {
		t.Fatalf("status: %v, want complete 3 of 3", st)
	}
	expectStatus(t, e.as("admin", req{method: "GET", path: "/api/recordings/batch-download/status/" + token}), 404, "another user's job")
	expectStatus(t, e.as("admin", req{method: "GET", path: "/api/recordings/batch-download/result/" + token}), 404, "another user's result")

	r := e.as("viewer", req{method: "GET", path: "/api/recordings/batch-download/result/" + token})
	expectStatus(t, r, 200, "result")
	if ct, cd := string(r.header.ContentType()), string(r.header.Peek("Content-Disposition")); ct != "application/zip" || cd != `attachment; filename="my_clips.zip"` {
		t.Fatalf("result headers: %s, %s", ct, cd)
	}
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatalf("the result is no ZIP: %v", err)
	}
	if len(zr.File) != 3 {
		t.Fatalf("%d files in the archive, want 3", len(zr.File))
	}
	for i, f := range zr.File {
		want, err := os.ReadFile(recs[i].FilePath)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name != "cam/"+filepath.Base(recs[i].FilePath) || f.Method != zip.Store {
			t.Errorf("entry %d: %s, method %d; want cam/%s stored", i, f.Name, f.Method, filepath.Base(recs[i].FilePath))
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("entry %s: %d bytes (%v), want the file's %d", f.Name, len(got), err, len(want))
		}
	}
	expectStatus(t, e.as("viewer", req{method: "GET", path: "/api/recordings/batch-download/result/" + token}), 404, "a token used once")
}

// A recording whose file is gone is left out (and counted); with none
// left the job fails and its result is 409, not an empty archive.
func TestBatchDownloadMissingFiles(t *testing.T) {
	e, recs := newRecordedEnv(t, 2)
	if err := os.Remove(recs[0].FilePath); err != nil {
		t.Fatal(err)
	}
	token, st := batchDownload(t, e, "user", []int64{recs[0].ID, recs[1].ID}, "")
	if st["status"] != "complete" || st["skipped"] != float64(1) {
		t.Fatalf("status: %v, want complete with one skipped", st)
	}
	r := e.as("user", req{method: "GET", path: "/api/recordings/batch-download/result/" + token})
	expectStatus(t, r, 200, "result")
	if cd := string(r.header.Peek("Content-Disposition")); cd != `attachment; filename="recordings.zip"` {
		t.Fatalf("default name: %s", cd)
	}
	if zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body))); err != nil || len(zr.File) != 1 {
		t.Fatalf("archive with the one file left: %v", err)
	}
	token, st = batchDownload(t, e, "user", []int64{recs[0].ID}, "x.zip")
	if st["status"] != "error" || st["error"] == "" {
		t.Fatalf("status with no file: %v", st)
	}
	expectStatus(t, e.as("user", req{method: "GET", path: "/api/recordings/batch-download/result/" + token}), 409, "result of a failed job")
}

func TestBatchDownloadBadInput(t *testing.T) {
	e, _ := newRecordedEnv(t, 1)
	e.expectRefused("viewer", []refusal{
		{"POST", "/api/recordings/batch-download", `{"ids":[]}`, 400},
		{"POST", "/api/recordings/batch-download", `{"ids":[0]}`, 400},
		{"POST", "/api/recordings/batch-download", `{"ids":"1"}`, 400},
		{"POST", "/api/recordings/batch-download", ``, 400},
		{"GET", "/api/recordings/batch-download/status/nothing", ``, 404},
		{"GET", "/api/recordings/batch-download/result/nothing", ``, 404},
	})
}

// TestBatchDownloadScope: a user limited by allowed_tags gets only the
// recordings of their streams.
func TestBatchDownloadScope(t *testing.T) {
	e := newTagsEnv(t)
	r := e.call(e.restricted, "POST", "/api/recordings/batch-download",
		`{"ids":[`+strconv.FormatInt(e.recs["front"], 10)+`,`+strconv.FormatInt(e.recs["kitchen"], 10)+`]}`)
	expectStatus(t, r, 202, "batch download")
	if got := r.json(t)["total"]; got != float64(1) {
		t.Fatalf("total %v, want only the front recording", got)
	}
}
