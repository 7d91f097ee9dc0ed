package api

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/testkit"
)

// startH265Camera is a camera like testkit's, encoding H.265 (libx265).
func startH265Camera(t *testing.T) string {
	t.Helper()
	ffmpeg := testkit.Need(t, "ffmpeg")
	if out, _ := exec.Command(ffmpeg, "-hide_banner", "-encoders").Output(); !bytes.Contains(out, []byte("libx265")) {
		testkit.Missing(t, "ffmpeg has no libx265 encoder")
	}
	src := "exec:ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=10 " +
		"-c:v libx265 -preset ultrafast -tune zerolatency -x265-params log-level=error -g 20 -f rtsp {output}"
	cam := testkit.StartGo2RTC(t, fmt.Sprintf("streams:\n  hevc: %q\npreload:\n  hevc: \"video\"\n", src))
	return fmt.Sprintf("rtsp://127.0.0.1:%d/hevc", cam.RTSPPort)
}

// recordStream adds a continuously recording stream of url and returns its
// first complete recording.
func recordStream(t *testing.T, e *streamEnv, name, url string) *db.Recording {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"url":%q,"record":true,"segment_duration":2}`, name, url)
	if code, b := e.do(t, "admin", "POST", "/api/streams", body); code != 201 {
		t.Fatalf("create %s: %d %s", name, code, b)
	}
	var rec *db.Recording
	testkit.WaitFor(t, 40*time.Second, "a complete recording of "+name, func() bool {
		recs, err := db.StreamRecordings(context.Background(), e.db, name)
		for _, r := range recs {
			if err == nil && r.IsComplete {
				rec = r
			}
		}
		return rec != nil
	})
	return rec
}

func thumbPath(id int64, idx int) string {
	return fmt.Sprintf("/api/recordings/thumbnail/%d/%d", id, idx)
}

// getThumb fetches a thumbnail as a viewer and checks it is a JPEG
// thumbWidth wide.
func getThumb(t *testing.T, e *streamEnv, id int64, idx int) {
	t.Helper()
	code, body := e.do(t, "viewer", "GET", thumbPath(id, idx), "")
	if code != 200 {
		t.Fatalf("thumbnail %d/%d: %d %s", id, idx, code, body)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("thumbnail %d/%d is no JPEG: %v", id, idx, err)
	}
	if w := img.Bounds().Dx(); w != thumbWidth {
		t.Fatalf("thumbnail %d/%d is %d wide, want %d", id, idx, w, thumbWidth)
	}
}

// TestThumbnailsOfH264AndH265 makes the three thumbnails of real
// recordings of an H.264 and an H.265 camera, keeps them on disk, and
// answers a recording whose file is gone with 404.
func TestThumbnailsOfH264AndH265(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	e := newStreamEnv(t, true)
	hevcURL := startH265Camera(t)
	for _, c := range []struct{ name, url, codec string }{{"avc", e.cam.URL(), "h264"}, {"hevc", hevcURL, "hevc"}} {
		rec := recordStream(t, e, c.name, c.url)
		if pr := testkit.FFprobe(t, rec.FilePath); len(pr.Streams) == 0 || pr.Streams[0].CodecName != c.codec {
			t.Fatalf("%s recorded %+v", c.name, pr.Streams)
		}
		for idx := range storage.ThumbnailsPerRecording {
			getThumb(t, e, rec.ID, idx)
			if _, err := os.Stat(storage.ThumbnailPath(e.srv.Config().Storage.Path, rec.ID, idx)); err != nil {
				t.Errorf("%s thumbnail %d not kept: %v", c.name, idx, err)
			}
		}
		getThumb(t, e, rec.ID, 1) // from the cache
	}

	recs, err := db.StreamRecordings(context.Background(), e.db, "avc")
	if err != nil {
		t.Fatal(err)
	}
	gone := recs[len(recs)-1] // the oldest: complete, no thumbnail made yet unless it was the one above
	if err := os.Remove(gone.FilePath); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(storage.ThumbnailPath(e.srv.Config().Storage.Path, gone.ID, 2))
	if code, body := e.do(t, "viewer", "GET", thumbPath(gone.ID, 2), ""); code != 404 {
		t.Fatalf("thumbnail of a recording whose file is gone: %d %s, want 404", code, body)
	}
}

// TestThumbnailBusyAndRefusals: while a thumbnail waits for ffmpeg the
// answer is 503 with Retry-After, then the picture; bad input is 400,
// an unknown recording 404, and without ffmpeg 404.
func TestThumbnailBusyAndRefusals(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	e := newStreamEnv(t, true)
	rec := recordStream(t, e, "avc", e.cam.URL())
	th := e.srv.thumbs
	for range cap(th.work) {
		th.work <- struct{}{} // every ffmpeg slot taken
	}
	th.wait = 0
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod("GET")
	ctx.Request.SetRequestURI(thumbPath(rec.ID, 0))
	ctx.Request.Header.Set("X-Test-Role", "viewer")
	e.srv.Handle(&ctx)
	if code, ra := ctx.Response.StatusCode(), string(ctx.Response.Header.Peek("Retry-After")); code != 503 || ra == "" {
		t.Fatalf("while the thumbnail waits: %d, Retry-After %q; want 503 with Retry-After (%s)", code, ra, ctx.Response.Body())
	}
	for range cap(th.work) {
		<-th.work
	}
	testkit.WaitFor(t, 20*time.Second, "the thumbnail made", func() bool {
		code, _ := e.do(t, "viewer", "GET", thumbPath(rec.ID, 0), "")
		return code == 200
	})

	for _, c := range []struct {
		path string
		want int
	}{
		{fmt.Sprintf("/api/recordings/thumbnail/%d/3", rec.ID), 400},
		{fmt.Sprintf("/api/recordings/thumbnail/%d/x", rec.ID), 400},
		{"/api/recordings/thumbnail/x/0", 400},
		{"/api/recordings/thumbnail/999999/0", 404},
	} {
		if code, body := e.do(t, "viewer", "GET", c.path, ""); code != c.want || !strings.Contains(string(body), `"error"`) {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, body, c.want)
		}
	}
	th.ffmpeg = ""
	if code, body := e.do(t, "viewer", "GET", thumbPath(rec.ID, 1), ""); code != 404 {
		t.Errorf("without ffmpeg: %d %s, want 404", code, body)
	}
}

// TestThumbnailsGoWithTheirRecording: deleting a recording (through the
// storage controller) removes its thumbnails.
func TestThumbnailsGoWithTheirRecording(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	e, recs := newRecordedEnv(t, 2)
	id := recs[0].ID
	var kept []string
	for idx := range storage.ThumbnailsPerRecording {
		expectStatus(t, e.as("viewer", req{method: "GET", path: thumbPath(id, idx)}), 200, "thumbnail")
		p := storage.ThumbnailPath(e.cfg.Storage.Path, id, idx)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("thumbnail %d not kept: %v", idx, err)
		}
		kept = append(kept, p)
	}
	expectStatus(t, e.as("admin", req{method: "DELETE", path: fmt.Sprintf("/api/recordings/%d", id)}), 200, "delete")
	for _, p := range kept {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s outlived its recording (%v)", p, err)
		}
	}
	expectStatus(t, e.as("viewer", req{method: "GET", path: thumbPath(id, 0)}), 404, "thumbnail of a deleted recording")
}
