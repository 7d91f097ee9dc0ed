package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/storage"
)

// Thumbnails are made on demand, one keyframe decoded by ffmpeg (no decoder
// is kept running), and kept under <storage>/thumbnails, where the storage
// controller removes them with their recording.
const (
	thumbWorkers = 2  // ffmpeg processes at once
	maxThumbJobs = 64 // thumbnails waiting to be made
	thumbTimeout = 30 * time.Second
	thumbWidth   = 320
	thumbRetry   = "2" // Retry-After while one is being made, seconds
)

// thumbnailsHandler serves GET /api/recordings/thumbnail/{id}/{idx}.
type thumbnailsHandler struct {
	*recordingsHandler
	// settings reads [storage] generate_thumbnails and
	// thumbnails_per_recording, live.
	settings func() (on bool, perRecording int)
	ffmpeg   string // "" when ffmpeg is not installed
	// wait is how long a request waits for a thumbnail being made before
	// it is answered 503 with Retry-After.
	wait time.Duration
	work chan struct{} // thumbWorkers

	mu      sync.Mutex
	pending map[string]*thumbJob
}

// thumbJob is one thumbnail being made; done closes when jpeg or err is set.
type thumbJob struct {
	done chan struct{}
	jpeg []byte
	err  error
}

func newThumbnails(h *recordingsHandler, settings func() (bool, int)) *thumbnailsHandler {
	bin, _ := exec.LookPath("ffmpeg")
	return &thumbnailsHandler{recordingsHandler: h, settings: settings, ffmpeg: bin, wait: 5 * time.Second,
		work: make(chan struct{}, thumbWorkers), pending: map[string]*thumbJob{}}
}

var thumbnailRoutes = []endpoint[*thumbnailsHandler]{
	{"GET", "/api/recordings/thumbnail/{id}/{idx}", auth.AccessViewer, (*thumbnailsHandler).handleThumbnail},
}

// thumbIndex parses {idx}: 0 (first frame), 1 (middle), 2 (a second before
// the end); only 0 when one thumbnail per recording is configured. On
// failure it has replied 400.
func thumbIndex(ctx *fasthttp.RequestCtx, perRecording int) (int, bool) {
	v := Param(ctx, "idx")
	top := storage.ThumbnailsPerRecording - 1
	if perRecording <= 1 {
		top = 0
	}
	idx := -1
	if len(v) == 1 && v[0] >= '0' && v[0] <= '9' {
		idx = int(v[0] - '0')
	}
	if idx < 0 || idx > top {
		writeErrorf(ctx, fasthttp.StatusBadRequest, "invalid thumbnail index %q: 0 to %d", v, top)
		return 0, false
	}
	return idx, true
}

// thumbAt is where thumbnail idx of it is taken, from its start.
func thumbAt(it *db.RecordingItem, idx int) time.Duration {
	end := it.EndTime
	if !it.IsComplete || end < it.StartTime {
		end = max(time.Now().Unix(), it.StartTime)
	}
	d := time.Duration(end-it.StartTime) * time.Second
	switch idx {
	case 1:
		return d / 2
	case 2:
		return max(d-time.Second, 0)
	}
	return 0
}

func (h *thumbnailsHandler) handleThumbnail(ctx *fasthttp.RequestCtx) {
	on, perRecording := h.settings()
	if !on {
		writeError(ctx, fasthttp.StatusNotFound, "thumbnails are off ([storage] generate_thumbnails)")
		return
	}
	idx, ok := thumbIndex(ctx, perRecording)
	if !ok {
		return
	}
	it, ok := h.loadRecording(ctx)
	if !ok {
		return
	}
	cache := storage.ThumbnailPath(h.storagePath, it.ID, idx)
	if jpeg, err := os.ReadFile(cache); err == nil {
		serveJPEG(ctx, jpeg, true)
		return
	}
	src, ok := h.sourceFile(ctx, it)
	if !ok {
		return
	}
	if !it.IsComplete {
		cache = "" // its middle and end move while it grows
	}
	j := h.start(fmt.Sprintf("%d_%d", it.ID, idx), src, thumbAt(it, idx), cache, it.ID)
	if j == nil || !waitDone(j.done, h.wait) {
		ctx.Response.Header.Set("Retry-After", thumbRetry)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "the thumbnail is being made; try again shortly")
		return
	}
	switch {
	case errors.Is(j.err, fs.ErrNotExist):
		writeErrorf(ctx, fasthttp.StatusNotFound, "recording %d: file not found", it.ID)
	case j.err != nil:
		h.fail(ctx, "make thumbnail", j.err)
	default:
		serveJPEG(ctx, j.jpeg, cache != "")
	}
}

// sourceFile is the recording's file, checked; on failure it has replied:
// 404 when the file is gone or ffmpeg is missing, 403 outside storage.
func (h *thumbnailsHandler) sourceFile(ctx *fasthttp.RequestCtx, it *db.RecordingItem) (string, bool) {
	src, err := h.recordingFile(it.FilePath)
	switch {
	case errors.Is(err, errOutsideStorage):
		writeErrorf(ctx, fasthttp.StatusForbidden, "recording %d: %v", it.ID, err)
	case errors.Is(err, fs.ErrNotExist):
		writeErrorf(ctx, fasthttp.StatusNotFound, "recording %d: file not found", it.ID)
	case err != nil:
		h.fail(ctx, "make thumbnail", err)
	case h.ffmpeg == "":
		writeError(ctx, fasthttp.StatusNotFound, "no thumbnail: ffmpeg, which makes them, is not installed")
	default:
		return src, true
	}
	return "", false
}

func waitDone(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func serveJPEG(ctx *fasthttp.RequestCtx, jpeg []byte, lasting bool) {
	ctx.SetContentType("image/jpeg")
	cc := "no-store"
	if lasting {
		// A complete recording's picture never changes, and ids are not reused.
		cc = "private, max-age=86400"
	}
	ctx.Response.Header.Set("Cache-Control", cc)
	ctx.SetBody(jpeg)
}

// start returns the job making thumbnail key, starting it unless one runs;
// nil when too many wait. A made thumbnail goes to cache ("" keeps none).
func (h *thumbnailsHandler) start(key, src string, at time.Duration, cache string, id int64) *thumbJob {
	h.mu.Lock()
	defer h.mu.Unlock()
	if j := h.pending[key]; j != nil {
		return j
	}
	if len(h.pending) >= maxThumbJobs {
		return nil
	}
	j := &thumbJob{done: make(chan struct{})}
	h.pending[key] = j
	go func() {
		h.work <- struct{}{}
		j.jpeg, j.err = h.decodeKeyframe(src, at)
		<-h.work
		if j.err == nil && cache != "" {
			h.keep(cache, j.jpeg, id)
		}
		h.mu.Lock()
		delete(h.pending, key)
		h.mu.Unlock()
		close(j.done)
	}()
	return j
}

// keep writes a thumbnail to its cache file whole (a rename), and takes it
// back when its recording was deleted meanwhile.
func (h *thumbnailsHandler) keep(path string, jpeg []byte, id int64) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		h.log.Warn("thumbnail not kept", "err", err)
		return
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, jpeg, 0o644); err != nil {
		h.log.Warn("thumbnail not kept", "err", err)
		_ = os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		h.log.Warn("thumbnail not kept", "err", err)
		_ = os.Remove(tmp)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.GetRecording(ctx, h.db, id); errors.Is(err, db.ErrRecordingNotFound) {
		_ = os.Remove(path)
	}
}

// decodeKeyframe has ffmpeg decode the one keyframe at or before at in src
// (it skips every other frame) and encode it as a JPEG thumbWidth wide.
// -copyts keeps that keyframe's own time: else, being before the seek
// point, it would come out with a negative one and be dropped.
func (h *thumbnailsHandler) decodeKeyframe(src string, at time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), thumbTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-skip_frame", "nokey", "-noaccurate_seek", "-copyts", "-ss", fmt.Sprintf("%.3f", at.Seconds()), "-i", src,
		"-frames:v", "1", "-vf", fmt.Sprintf("scale=%d:-2", thumbWidth), "-q:v", "5", "-f", "image2", "-c:v", "mjpeg", "pipe:1")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	if _, serr := os.Stat(src); errors.Is(serr, fs.ErrNotExist) {
		return nil, fmt.Errorf("thumbnail of %s: %w", src, serr)
	}
	if err == nil && out.Len() == 0 {
		err = errors.New("no frame decoded")
	}
	if err != nil {
		return nil, fmt.Errorf("ffmpeg thumbnail of %s at %s: %w: %s", src, at, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.Bytes(), nil
}
