package api

import (
	"archive/zip"
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/record"
)

// A batch download is LightNVR's three steps: POST the ids, poll the
// status until complete, fetch the result. Here "complete" means the
// archive is ready to send: the files are checked, and the ZIP is then
// written straight to the client as it is read from disk (stored, not
// recompressed: MP4 does not shrink), so nothing is staged in memory or on
// disk and the first byte leaves at once.
const (
	maxDownloadJobs    = 8 // waiting to be fetched, as LightNVR's cap
	maxDownloadStreams = 2 // archives being sent at once
	downloadJobKeep    = 30 * time.Minute
	downloadRetryAfter = "5"
)

// downloadEntry is one file of an archive.
type downloadEntry struct {
	path, name string
	size       int64
	mtime      time.Time
}

// downloadJob is one archive to be: LightNVR's status object plus, once
// checked, its files. A result fetch takes the job: a token serves once.
type downloadJob struct {
	Status  string `json:"status"` // pending, running, complete, error
	Current int    `json:"current"`
	Total   int    `json:"total"`
	Error   string `json:"error"`
	Skipped int    `json:"skipped"` // recordings whose file is gone

	user     int64
	filename string
	items    []*db.RecordingItem
	entries  []downloadEntry
	created  time.Time
}

// batchDownloads holds the jobs; each user has at most one waiting (a new
// request replaces it) and sends at most one archive at a time.
type batchDownloads struct {
	*recordingsHandler
	slots chan struct{} // maxDownloadStreams

	mu      sync.Mutex
	jobs    map[string]*downloadJob
	sending map[int64]bool
}

func newBatchDownloads(h *recordingsHandler) *batchDownloads {
	return &batchDownloads{recordingsHandler: h, slots: make(chan struct{}, maxDownloadStreams),
		jobs: map[string]*downloadJob{}, sending: map[int64]bool{}}
}

var batchDownloadRoutes = []endpoint[*batchDownloads]{
	{"POST", "/api/recordings/batch-download", auth.AccessViewer, (*batchDownloads).handleCreate},
	{"GET", "/api/recordings/batch-download/status/{token}", auth.AccessViewer, (*batchDownloads).handleStatus},
	{"GET", "/api/recordings/batch-download/result/{token}", auth.AccessViewer, (*batchDownloads).handleResult},
}

// callerID is whose job a request is: the user, 0 without authentication.
func callerID(ctx *fasthttp.RequestCtx) int64 {
	if p := PrincipalOf(ctx); p != nil {
		return p.UserID
	}
	return 0
}

// zipName is the archive's download name: filename made safe for the
// header, ending in .zip.
func zipName(filename string) string {
	name := downloadName(filename)
	if name == "" || name == "." {
		name = "recordings"
	}
	if path.Ext(name) != ".zip" {
		name += ".zip"
	}
	return name
}

// handleCreate: POST /api/recordings/batch-download {ids, filename?} →
// 202 {token, total}; total counts the recordings the caller may see.
func (b *batchDownloads) handleCreate(ctx *fasthttp.RequestCtx) {
	var body struct {
		IDs      []int64 `json:"ids"`
		Filename string  `json:"filename"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	items, err := b.visibleItems(ctx, body.IDs)
	if err != nil {
		b.fail(ctx, "batch download", err)
		return
	}
	raw := make([]byte, 12)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	j := &downloadJob{Status: "pending", Total: len(items), user: callerID(ctx), filename: zipName(body.Filename),
		items: items, created: time.Now()}
	if !b.register(token, j) {
		ctx.Response.Header.Set("Retry-After", downloadRetryAfter)
		writeErrorf(ctx, fasthttp.StatusServiceUnavailable, "%d batch downloads are waiting; try again when one is fetched", maxDownloadJobs)
		return
	}
	go b.check(token, j)
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"token": token, "total": j.Total})
}

// visibleItems are those of ids that exist in the streams the caller may
// see, in id order; a bad id list is a 400.
func (b *batchDownloads) visibleItems(ctx *fasthttp.RequestCtx, ids []int64) ([]*db.RecordingItem, error) {
	ids, err := cleanIDs(ids)
	if err != nil {
		return nil, &statusError{status: fasthttp.StatusBadRequest, msg: err.Error()}
	}
	if ids, err = visibleIDs(ctx, b.db, ids); err != nil {
		return nil, err
	}
	var out []*db.RecordingItem
	for i := 0; i < len(ids); i += batchChunk {
		chunk := ids[i:min(i+batchChunk, len(ids))]
		items, err := db.ListRecordingItems(requestContext(ctx), b.db, db.RecordingFilter{IDs: chunk}, db.RecordingPage{Sort: "id"})
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// register adds j, replacing the user's waiting job and dropping expired
// ones; false when too many wait.
func (b *batchDownloads) register(token string, j *downloadJob) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for t, o := range b.jobs {
		if o.user == j.user || time.Since(o.created) > downloadJobKeep {
			delete(b.jobs, t)
		}
	}
	if len(b.jobs) >= maxDownloadJobs {
		return false
	}
	b.jobs[token] = j
	return true
}

// update changes j under the lock the status reads take.
func (b *batchDownloads) update(j *downloadJob, f func(*downloadJob)) {
	b.mu.Lock()
	f(j)
	b.mu.Unlock()
}

// check finds each recording's file and its size now: a file still being
// written goes in at that size.
func (b *batchDownloads) check(token string, j *downloadJob) {
	b.update(j, func(j *downloadJob) { j.Status = "running" })
	var entries []downloadEntry
	skipped := 0
	for i, it := range j.items {
		if e, err := b.entry(it); err != nil {
			b.log.Warn("batch download: recording left out", "id", it.ID, "err", err)
			skipped++
		} else {
			entries = append(entries, e)
		}
		b.update(j, func(j *downloadJob) { j.Current = i + 1 })
	}
	b.update(j, func(j *downloadJob) {
		j.entries, j.Skipped, j.Status = entries, skipped, "complete"
		if len(entries) == 0 {
			j.Status, j.Error = "error", "none of the recordings has a file to download"
		}
	})
}

func (b *batchDownloads) entry(it *db.RecordingItem) (downloadEntry, error) {
	p, err := b.recordingFile(it.FilePath)
	if err != nil {
		return downloadEntry{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return downloadEntry{}, fmt.Errorf("recording file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return downloadEntry{}, fmt.Errorf("recording file %s is not a regular file", p)
	}
	// One folder per stream: two streams' files may share a name.
	name := path.Join(record.SanitizeStream(it.StreamName), path.Base(p))
	return downloadEntry{path: p, name: name, size: st.Size(), mtime: st.ModTime()}, nil
}

// job finds the caller's job of {token}; on failure it has replied 404
// (another user's token is as unknown as a made-up one).
func (b *batchDownloads) job(ctx *fasthttp.RequestCtx) (*downloadJob, string, bool) {
	token := Param(ctx, "token")
	b.mu.Lock()
	j, ok := b.jobs[token]
	b.mu.Unlock()
	if !ok || j.user != callerID(ctx) || time.Since(j.created) > downloadJobKeep {
		writeErrorf(ctx, fasthttp.StatusNotFound, "batch download %q not found", token)
		return nil, "", false
	}
	return j, token, true
}

// handleStatus: GET …/status/{token} → {status, current, total, error, skipped}.
func (b *batchDownloads) handleStatus(ctx *fasthttp.RequestCtx) {
	j, _, ok := b.job(ctx)
	if !ok {
		return
	}
	b.mu.Lock()
	out := *j
	b.mu.Unlock()
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// handleResult: GET …/result/{token} streams the ZIP (409 until the
// status is complete). 429 while the caller sends another archive, 503
// while maxDownloadStreams archives are being sent.
func (b *batchDownloads) handleResult(ctx *fasthttp.RequestCtx) {
	j, token, ok := b.job(ctx)
	if !ok {
		return
	}
	b.mu.Lock()
	status, busy, full := j.Status, b.sending[j.user], false
	if status == "complete" && !busy {
		select {
		case b.slots <- struct{}{}:
			delete(b.jobs, token)
			b.sending[j.user] = true
		default:
			full = true
		}
	}
	b.mu.Unlock()
	switch {
	case status == "error":
		writeErrorf(ctx, fasthttp.StatusConflict, "batch download failed: %s", j.Error)
		return
	case status != "complete":
		writeErrorf(ctx, fasthttp.StatusConflict, "batch download is %s; poll its status until complete", status)
		return
	case busy:
		ctx.Response.Header.Set("Retry-After", downloadRetryAfter)
		writeError(ctx, fasthttp.StatusTooManyRequests, "you are downloading another archive; try again when it is done")
		return
	case full:
		ctx.Response.Header.Set("Retry-After", downloadRetryAfter)
		writeErrorf(ctx, fasthttp.StatusServiceUnavailable, "%d archives are being sent; try again shortly", maxDownloadStreams)
		return
	}
	ctx.SetContentType("application/zip")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+j.filename+`"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer b.release(j.user)
		if err := writeZip(w, j.entries); err != nil {
			b.log.Warn("batch download cut short", "files", len(j.entries), "err", err)
		}
	})
}

func (b *batchDownloads) release(user int64) {
	b.mu.Lock()
	delete(b.sending, user)
	b.mu.Unlock()
	<-b.slots
}

// writeZip writes entries as a stored ZIP to w, each file at the size it
// had when checked.
func writeZip(w io.Writer, entries []downloadEntry) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		if err := addZipFile(zw, e); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish archive: %w", err)
	}
	return nil
}

func addZipFile(zw *zip.Writer, e downloadEntry) error {
	f, err := os.Open(e.path)
	if err != nil {
		return fmt.Errorf("open %s: %w", e.name, err)
	}
	defer f.Close()
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store, Modified: e.mtime})
	if err != nil {
		return fmt.Errorf("add %s: %w", e.name, err)
	}
	n, err := io.Copy(fw, io.LimitReader(f, e.size))
	if err == nil && n < e.size {
		err = fmt.Errorf("file shrank to %d bytes", n)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", e.name, err)
	}
	return nil
}
