package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/db"
)

// Batch deletions run in the background; the client polls their progress.
const (
	maxRunningBatchJobs = 2
	maxKeptBatchJobs    = 32
	batchJobKeep        = time.Hour
	batchChunk          = 200
)

// batchJob is one batch deletion, LightNVR's progress object.
type batchJob struct {
	ID            string `json:"job_id"`
	Status        string `json:"status"` // pending, running, complete, error
	Total         int64  `json:"total"`
	Current       int64  `json:"current"`
	Succeeded     int64  `json:"succeeded"`
	Failed        int64  `json:"failed"`
	StatusMessage string `json:"status_message"`
	ErrorMessage  string `json:"error_message,omitempty"`
	Complete      bool   `json:"complete"`

	finished time.Time
}

// batchJobs owns the batch-deletion goroutines: Close cancels and waits
// for them.
type batchJobs struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	jobs map[string]*batchJob
}

func newBatchJobs(log *slog.Logger) *batchJobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &batchJobs{log: log, ctx: ctx, cancel: cancel, jobs: map[string]*batchJob{}}
}

// close stops running jobs and waits for them until ctx ends.
func (b *batchJobs) close(ctx context.Context) error {
	if b == nil {
		return nil
	}
	b.cancel()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("batch deletions still running: %w", ctx.Err())
	}
}

// start registers a job and runs work in the background; work reports
// through update. It fails when too many jobs run already.
func (b *batchJobs) start(work func(ctx context.Context, j *batchJob, update func(func(*batchJob))) error) (*batchJob, error) {
	var raw [12]byte
	_, _ = rand.Read(raw[:])
	j := &batchJob{ID: hex.EncodeToString(raw[:]), Status: "pending", StatusMessage: "Waiting to start"}
	b.mu.Lock()
	running := 0
	now := time.Now()
	for id, o := range b.jobs {
		if !o.Complete {
			running++
		} else if now.Sub(o.finished) > batchJobKeep {
			delete(b.jobs, id)
		}
	}
	if running >= maxRunningBatchJobs {
		b.mu.Unlock()
		return nil, errors.New("too many batch deletions running; try again when one has finished")
	}
	for len(b.jobs) >= maxKeptBatchJobs {
		oldest := ""
		for id, o := range b.jobs {
			if o.Complete && (oldest == "" || o.finished.Before(b.jobs[oldest].finished)) {
				oldest = id
			}
		}
		if oldest == "" {
			break
		}
		delete(b.jobs, oldest)
	}
	b.jobs[j.ID] = j
	if b.ctx.Err() != nil {
		b.mu.Unlock()
		return nil, errors.New("server is shutting down")
	}
	b.wg.Add(1)
	b.mu.Unlock()

	update := func(f func(*batchJob)) {
		b.mu.Lock()
		f(j)
		b.mu.Unlock()
	}
	go func() {
		defer b.wg.Done()
		update(func(j *batchJob) { j.Status, j.StatusMessage = "running", "Deleting recordings" })
		err := work(b.ctx, j, update)
		update(func(j *batchJob) {
			j.Complete, j.finished = true, time.Now()
			if err != nil {
				j.Status, j.ErrorMessage = "error", err.Error()
				j.StatusMessage = fmt.Sprintf("Stopped after %d of %d: %v", j.Current, j.Total, err)
				return
			}
			j.Status = "complete"
			j.StatusMessage = fmt.Sprintf("Deleted %d of %d recordings (%d failed or skipped)", j.Succeeded, j.Total, j.Failed)
		})
		if err != nil {
			b.log.Warn("batch delete", "job", j.ID, "err", err)
		}
	}()
	return j, nil
}

// get returns a snapshot of a job.
func (b *batchJobs) get(id string) (batchJob, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	j, ok := b.jobs[id]
	if !ok {
		return batchJob{}, false
	}
	return *j, true
}

// triState is a JSON filter value that may be a boolean or LightNVR's
// integer (-1 any, 0 no, 1 yes).
type triState struct{ v *bool }

func (t *triState) UnmarshalJSON(b []byte) error {
	switch strings.TrimSpace(string(b)) {
	case "true", "1":
		v := true
		t.v = &v
	case "false", "0":
		v := false
		t.v = &v
	case "null", "-1":
		t.v = nil
	default:
		return fmt.Errorf("want true, false, 1, 0 or -1, not %s", b)
	}
	return nil
}

// batchFilter is LightNVR's batch-delete filter.
type batchFilter struct {
	Start          string   `json:"start"`
	End            string   `json:"end"`
	StreamName     string   `json:"stream_name"`
	Stream         string   `json:"stream"`
	Detection      triState `json:"detection"`
	DetectionLabel string   `json:"detection_label"`
	Tag            string   `json:"tag"`
	CaptureMethod  string   `json:"capture_method"`
	Protected      triState `json:"protected"`
}

func (bf *batchFilter) toFilter() (db.RecordingFilter, error) {
	var f db.RecordingFilter
	var err error
	if bf.Start != "" {
		if f.StartFrom, err = parseAPITime(bf.Start); err != nil {
			return f, fmt.Errorf("filter.start: %w", err)
		}
	}
	if bf.End != "" {
		if f.StartTo, err = parseAPITime(bf.End); err != nil {
			return f, fmt.Errorf("filter.end: %w", err)
		}
	}
	f.Streams = csvArg(bf.StreamName + "," + bf.Stream)
	f.HasDetection = bf.Detection.v
	f.DetectionLabels = csvArg(bf.DetectionLabel)
	f.Tags = csvArg(bf.Tag)
	for _, m := range csvArg(bf.CaptureMethod) {
		if !slices.Contains(captureMethods, m) {
			return f, fmt.Errorf("filter.capture_method %q: use %s", m, strings.Join(captureMethods, ", "))
		}
		f.CaptureMethods = append(f.CaptureMethods, m)
	}
	f.Protected = bf.Protected.v
	if f.StartFrom == 0 && f.StartTo == 0 && len(f.Streams) == 0 && f.HasDetection == nil && len(f.DetectionLabels) == 0 &&
		len(f.Tags) == 0 && len(f.CaptureMethods) == 0 && f.Protected == nil {
		// An empty filter would delete every recording: make it explicit.
		return f, errors.New("filter selects every recording; give at least one criterion (e.g. stream or end)")
	}
	return f, nil
}

func (h *recordingsHandler) handleBatchDelete(ctx *fasthttp.RequestCtx) {
	var body struct {
		IDs    []int64      `json:"ids"`
		Filter *batchFilter `json:"filter"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	// A caller restricted by allowed_tags deletes only in the streams they see.
	var scope db.RecordingFilter
	if err := limitToVisible(ctx, h.db, &scope); err != nil {
		h.fail(ctx, "batch delete", err)
		return
	}
	var work func(context.Context, *batchJob, func(func(*batchJob))) error
	switch {
	case len(body.IDs) > 0 && body.Filter != nil:
		writeError(ctx, fasthttp.StatusBadRequest, `give either "ids" or "filter", not both`)
		return
	case body.Filter != nil:
		f, err := body.Filter.toFilter()
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
		if err := limitToVisible(ctx, h.db, &f); err != nil {
			h.fail(ctx, "batch delete", err)
			return
		}
		work = func(ctx context.Context, j *batchJob, update func(func(*batchJob))) error {
			return h.batchDeleteFilter(ctx, f, update)
		}
	default:
		ids, err := cleanIDs(body.IDs)
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, `give "ids" (a list of recording ids) or "filter": `+err.Error())
			return
		}
		work = func(ctx context.Context, j *batchJob, update func(func(*batchJob))) error {
			update(func(j *batchJob) { j.Total = int64(len(ids)) })
			for i := 0; i < len(ids); i += batchChunk {
				if err := h.batchDeleteChunk(ctx, db.RecordingFilter{IDs: ids[i:min(i+batchChunk, len(ids))], Streams: scope.Streams},
					int64(min(batchChunk, len(ids)-i)), update); err != nil {
					return err
				}
			}
			return nil
		}
	}
	j, err := h.jobs.start(work)
	if err != nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]any{"job_id": j.ID, "status": "pending"})
}

// batchDeleteFilter deletes what f selects, walking ids upwards so rows
// that stay (protected, still written, refused) are not met again.
func (h *recordingsHandler) batchDeleteFilter(ctx context.Context, f db.RecordingFilter, update func(func(*batchJob))) error {
	total, err := db.CountRecordingItems(ctx, h.db, f)
	if err != nil {
		return err
	}
	update(func(j *batchJob) { j.Total = total })
	for {
		ids, err := db.RecordingIDsMatching(ctx, h.db, f, batchChunk)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := h.batchDeleteChunk(ctx, db.RecordingFilter{IDs: ids}, int64(len(ids)), update); err != nil {
			return err
		}
		f.AfterID = ids[len(ids)-1]
	}
}

// batchDeleteChunk deletes the deletable rows among chunk (asked: how many
// ids were asked for, some may not exist) and counts the rest as failed.
func (h *recordingsHandler) batchDeleteChunk(ctx context.Context, chunk db.RecordingFilter, asked int64, update func(func(*batchJob))) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	items, err := db.ListRecordingItems(ctx, h.db, chunk, db.RecordingPage{Sort: "id"})
	if err != nil {
		return err
	}
	ok := make([]int64, 0, len(items))
	for _, it := range items {
		if it.Protected || !it.IsComplete {
			continue
		}
		if err := h.deletable(it); err != nil {
			h.log.Warn("batch delete refused", "id", it.ID, "path", it.FilePath, "err", err)
			continue
		}
		ok = append(ok, it.ID)
	}
	n, err := h.deleteIDs(ctx, ok)
	update(func(j *batchJob) {
		j.Current += asked
		j.Succeeded += int64(n)
		j.Failed += asked - int64(n)
	})
	return err
}

func (b *batchJobs) handleProgress(ctx *fasthttp.RequestCtx) {
	id := Param(ctx, "job")
	j, ok := b.get(id)
	if !ok {
		writeErrorf(ctx, fasthttp.StatusNotFound, "batch delete job %q not found", id)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, j)
}
