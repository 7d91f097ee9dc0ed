package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/storage"
)

// maxRecordingOffset bounds the row offset a page may ask for.
const maxRecordingOffset = 1<<31 - 1

// recordingsHandler serves the recordings: their rows, files, protection,
// retention and deletion.
type recordingsHandler struct {
	failer
	db *db.DB
	// storagePath is the directory recording files must lie in.
	storagePath string
	// deleteIDs deletes the complete, unprotected recordings among ids
	// through the storage controller's garbage-table path and returns how
	// many went.
	deleteIDs func(ctx context.Context, ids []int64) (int, error)
	jobs      *batchJobs
}

// recordingChangeRoutes need the storage controller: without it they answer 503.
var recordingChangeRoutes = []endpoint[*recordingWriter]{
	// DELETE /api/recordings/files before DELETE /api/recordings/{id}.
	{"DELETE", "/api/recordings/files", auth.AccessOperator, (*recordingWriter).handleDeleteFile},
	{"POST", "/api/recordings/sync", auth.AccessWriter, (*recordingWriter).handleSync},
	{"POST", "/api/recordings/batch-protect", auth.AccessWriter, (*recordingWriter).handleBatchProtect},
	{"PUT", "/api/recordings/{id}/protect", auth.AccessWriter, (*recordingWriter).handleProtectRecording},
	{"PUT", "/api/recordings/{id}/retention", auth.AccessWriter, (*recordingWriter).handleRecordingRetention},
}

// First match wins: the fixed paths go before /api/recordings/{id}.
var recordingRoutes = []endpoint[*recordingsHandler]{
	{"GET", "/api/recordings", auth.AccessViewer, (*recordingsHandler).handleListRecordings},
	{"GET", "/api/recordings/protected", auth.AccessViewer, (*recordingsHandler).handleCountProtected},
	{"GET", "/api/recordings/files/check", auth.AccessViewer, (*recordingsHandler).handleCheckFile},
	{"POST", "/api/recordings/batch-delete", auth.AccessOperator, (*recordingsHandler).handleBatchDelete},
	{"GET", "/api/recordings/play/{id}", auth.AccessViewer, (*recordingsHandler).handlePlayRecording},
	{"GET", "/api/recordings/download/{id}", auth.AccessViewer, (*recordingsHandler).handleDownloadRecording},
	{"GET", "/api/recordings/{id}", auth.AccessViewer, (*recordingsHandler).handleGetRecording},
	{"DELETE", "/api/recordings/{id}", auth.AccessOperator, (*recordingsHandler).handleDeleteRecording},
}

// batchProgressRoutes need no database: the jobs are in memory.
var batchProgressRoutes = []endpoint[*batchJobs]{
	{"GET", "/api/recordings/batch-delete/progress/{job}", auth.AccessOperator, (*batchJobs).handleProgress},
}

// errNoController is what deleting answers without a storage controller.
var errNoController = errors.New("storage controller is not running")

// Listing limits, LightNVR's: 20 rows by default, at most 1000 ("all" is
// answered with the largest page, the pagination says how many remain).
const (
	defaultRecordingLimit = 20
	maxRecordingLimit     = 1000
)

// captureMethods are the values of capture_method, as a filter and in replies.
var captureMethods = []string{"continuous", "scheduled", "detection", "motion", "manual"}

var (
	errOutsideStorage = errors.New("recording file is outside the storage directory")
	errNoStorage      = errors.New("storage path is not configured")
)

// recordingJSON is LightNVR's recording object plus a few columns of ours
// (size_bytes, trigger_type, is_complete, retention_override_days).
type recordingJSON struct {
	ID                    int64       `json:"id"`
	Stream                string      `json:"stream"`
	FilePath              string      `json:"file_path"`
	StartTime             string      `json:"start_time"`
	EndTime               string      `json:"end_time"`
	StartTimeUnix         int64       `json:"start_time_unix"`
	EndTimeUnix           int64       `json:"end_time_unix"`
	Duration              int64       `json:"duration"`
	Size                  string      `json:"size"`
	SizeBytes             int64       `json:"size_bytes"`
	CaptureMethod         string      `json:"capture_method"`
	TriggerType           string      `json:"trigger_type"`
	ScheduleRestricted    *bool       `json:"schedule_restricted"`
	HasDetection          bool        `json:"has_detection"`
	Protected             bool        `json:"protected"`
	RetentionOverrideDays *int64      `json:"retention_override_days"`
	IsComplete            bool        `json:"is_complete"`
	DetectionLabels       []labelJSON `json:"detection_labels,omitempty"`
	Tags                  *[]string   `json:"tags,omitempty"`
}

type labelJSON struct {
	Label string `json:"label"`
	Count int64  `json:"count"`
}

const isoUTC = "2006-01-02T15:04:05Z"

func toRecordingJSON(it *db.RecordingItem, now time.Time) recordingJSON {
	end := it.EndTime
	if end == 0 && !it.IsComplete {
		// Still being written: it reaches up to now.
		end = max(now.Unix(), it.StartTime)
	}
	if end < it.StartTime {
		end = it.StartTime
	}
	return recordingJSON{
		ID: it.ID, Stream: it.StreamName, FilePath: it.FilePath,
		StartTime: time.Unix(it.StartTime, 0).UTC().Format(isoUTC), EndTime: time.Unix(end, 0).UTC().Format(isoUTC),
		StartTimeUnix: it.StartTime, EndTimeUnix: end, Duration: end - it.StartTime,
		Size: humanSize(it.SizeBytes), SizeBytes: it.SizeBytes,
		CaptureMethod: it.CaptureMethod, TriggerType: it.TriggerType, ScheduleRestricted: it.ScheduleRestricted,
		HasDetection: it.HasDetection, Protected: it.Protected, RetentionOverrideDays: it.RetentionOverrideDays,
		IsComplete: it.IsComplete,
	}
}

// humanSize formats bytes as LightNVR's size string ("1.8 MB").
func humanSize(n int64) string {
	const k = 1024.0
	f := float64(n)
	switch {
	case f < k:
		return strconv.FormatInt(n, 10) + " B"
	case f < k*k:
		return fmt.Sprintf("%.1f KB", f/k)
	case f < k*k*k:
		return fmt.Sprintf("%.1f MB", f/(k*k))
	}
	return fmt.Sprintf("%.1f GB", f/(k*k*k))
}

// parseAPITime reads a time as LightNVR accepts it: YYYY-MM-DDTHH:MM:SS
// with optional fraction and Z (all UTC), or YYYY-MM-DD, or unix seconds.
func parseAPITime(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, errors.New("empty time")
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && len(v) > 8 {
		if n <= 0 {
			return 0, fmt.Errorf("invalid time %q", v)
		}
		return n, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04:05.999999999Z", "2006-01-02T15:04:05",
		"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.Unix(), nil
		}
	}
	return 0, fmt.Errorf("invalid time %q: use YYYY-MM-DDTHH:MM:SS[.sss][Z] (UTC) or YYYY-MM-DD", v)
}

// csvArg splits a comma-separated query value, dropping empty items.
func csvArg(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseBoolArg(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return true, nil
	case "0", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("invalid %s %q: use 0 or 1", name, v)
}

// listQuery is a parsed GET /api/recordings query.
type listQuery struct {
	filter db.RecordingFilter
	page   int
	limit  int
	sort   string
	desc   bool
}

func parseListQuery(args *fasthttp.Args) (listQuery, error) {
	q := listQuery{page: 1, limit: defaultRecordingLimit, sort: "start_time", desc: true}
	get := func(k string) string { return string(args.Peek(k)) }
	q.filter.Streams = csvArg(get("stream"))
	for _, k := range []string{"start", "end"} {
		if v := get(k); v != "" {
			t, err := parseAPITime(v)
			if err != nil {
				return q, fmt.Errorf("%s: %w", k, err)
			}
			if k == "start" {
				q.filter.StartFrom = t
			} else {
				q.filter.StartTo = t
			}
		}
	}
	if v := get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, fmt.Errorf("invalid page %q: a number from 1", v)
		}
		q.page = n
	}
	if v := get("limit"); v != "" {
		if v == "all" {
			q.limit = maxRecordingLimit
		} else {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return q, fmt.Errorf("invalid limit %q: a number from 1 to %d, or all", v, maxRecordingLimit)
			}
			q.limit = min(n, maxRecordingLimit)
		}
	}
	// (page-1)×limit is the SQL offset: it must not wrap (a huge page would
	// come back as the first one) and must fit a 32-bit int on the board.
	if int64(q.page-1) > maxRecordingOffset/int64(q.limit) {
		return q, fmt.Errorf("invalid page %d: beyond the last possible page (page × limit must stay below %d)", q.page, maxRecordingOffset)
	}
	if v := get("sort"); v != "" {
		if _, ok := db.RecordingSortKeys[v]; !ok {
			return q, fmt.Errorf("invalid sort %q: use id, stream_name, start_time, end_time or size_bytes", v)
		}
		q.sort = v
	}
	switch v := strings.ToLower(get("order")); v {
	case "", "desc":
	case "asc":
		q.desc = false
	default:
		return q, fmt.Errorf("invalid order %q: use asc or desc", v)
	}
	switch v := get("has_detection"); v {
	case "", "-1":
	default:
		b, err := parseBoolArg("has_detection", v)
		if err != nil {
			return q, fmt.Errorf("invalid has_detection %q: use -1, 0 or 1", v)
		}
		q.filter.HasDetection = &b
	}
	q.filter.DetectionLabels = csvArg(get("detection_label"))
	if v := get("protected"); v != "" && v != "-1" {
		b, err := parseBoolArg("protected", v)
		if err != nil {
			return q, err
		}
		q.filter.Protected = &b
	}
	q.filter.Tags = csvArg(get("tag"))
	for _, m := range csvArg(get("capture_method")) {
		if !slices.Contains(captureMethods, m) {
			return q, fmt.Errorf("invalid capture_method %q: use %s", m, strings.Join(captureMethods, ", "))
		}
		q.filter.CaptureMethods = append(q.filter.CaptureMethods, m)
	}
	if q.filter.StartFrom != 0 && q.filter.StartTo != 0 && q.filter.StartTo < q.filter.StartFrom {
		return q, errors.New("end is before start")
	}
	return q, nil
}

func (h *recordingsHandler) handleListRecordings(ctx *fasthttp.RequestCtx) {
	q, err := parseListQuery(ctx.QueryArgs())
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if err := limitToVisible(ctx, h.db, &q.filter); err != nil {
		h.fail(ctx, "list recordings", err)
		return
	}
	total, err := db.CountRecordingItems(requestContext(ctx), h.db, q.filter)
	if err != nil {
		h.fail(ctx, "count recordings", err)
		return
	}
	offset := int64(q.page-1) * int64(q.limit)
	items := []*db.RecordingItem{}
	if offset < total {
		items, err = db.ListRecordingItems(requestContext(ctx), h.db, q.filter, db.RecordingPage{Sort: q.sort, Desc: q.desc, Limit: q.limit, Offset: int(offset)})
		if err != nil {
			h.fail(ctx, "list recordings", err)
			return
		}
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	tags, err := db.RecordingTagsOf(requestContext(ctx), h.db, ids)
	if err != nil {
		h.fail(ctx, "list recordings", err)
		return
	}
	now := time.Now()
	internals := seesInternals(ctx)
	out := make([]recordingJSON, len(items))
	for i, it := range items {
		out[i] = toRecordingJSON(it, now)
		if !internals {
			out[i].FilePath = publicFileName(out[i].FilePath)
		}
		t := tags[it.ID]
		if t == nil {
			t = []string{}
		}
		out[i].Tags = &t
		if it.HasDetection {
			if out[i].DetectionLabels, err = h.detectionLabels(requestContext(ctx), it, out[i].EndTimeUnix); err != nil {
				h.fail(ctx, "list recordings", err)
				return
			}
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"recordings": out,
		"pagination": map[string]any{"page": q.page, "limit": q.limit, "total": total,
			"pages": int64(math.Ceil(float64(total) / float64(q.limit)))},
	})
}

func (h *recordingsHandler) detectionLabels(ctx context.Context, it *db.RecordingItem, end int64) ([]labelJSON, error) {
	lcs, err := db.DetectionLabelsDuring(ctx, h.db, it.StreamName, it.StartTime, end)
	if err != nil {
		return nil, err
	}
	out := make([]labelJSON, len(lcs))
	for i, lc := range lcs {
		out[i] = labelJSON{Label: lc.Label, Count: lc.Count}
	}
	return out, nil
}

// recordingID parses the {id} path parameter; on failure it has replied 400.
func recordingID(ctx *fasthttp.RequestCtx) (int64, bool) {
	v := Param(ctx, "id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		writeErrorf(ctx, fasthttp.StatusBadRequest, "invalid recording id %q: a positive integer", v)
		return 0, false
	}
	return id, true
}

// recordingRequest parses the {id} path parameter and the JSON body into
// body; on failure it has replied 400.
func recordingRequest(ctx *fasthttp.RequestCtx, body any) (int64, bool) {
	id, ok := recordingID(ctx)
	return id, ok && readJSON(ctx, body)
}

// loadRecording fetches the {id} recording; on failure it has replied.
func (h *recordingsHandler) loadRecording(ctx *fasthttp.RequestCtx) (*db.RecordingItem, bool) {
	id, ok := recordingID(ctx)
	if !ok {
		return nil, false
	}
	it, err := db.GetRecordingItem(requestContext(ctx), h.db, id)
	return found(ctx, h.failer, "get recording", it, err, db.ErrRecordingNotFound, fmt.Sprintf("recording %d not found", id))
}

func (h *recordingsHandler) handleGetRecording(ctx *fasthttp.RequestCtx) {
	it, ok := h.loadRecording(ctx)
	if !ok {
		return
	}
	out := toRecordingJSON(it, time.Now())
	if !seesInternals(ctx) {
		out.FilePath = publicFileName(out.FilePath)
	}
	if it.HasDetection {
		var err error
		if out.DetectionLabels, err = h.detectionLabels(requestContext(ctx), it, out.EndTimeUnix); err != nil {
			h.fail(ctx, "get recording", err)
			return
		}
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// storageRoot is the configured storage directory, absolute and cleaned.
func (h *recordingsHandler) storageRoot() (string, error) {
	if h.storagePath == "" {
		return "", errNoStorage
	}
	root, err := filepath.Abs(h.storagePath)
	if err != nil {
		return "", fmt.Errorf("storage path: %w", err)
	}
	return root, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// recordingFile returns where a recording row's file really is, refusing
// (errOutsideStorage) any path that leaves the storage directory, by its
// text or through symlinks. Paths only ever come from the database; a row
// pointing elsewhere (a hand-edited or foreign database) must not turn the
// API into a file reader or deleter. A missing file gives an error
// wrapping fs.ErrNotExist.
func (h *recordingsHandler) recordingFile(p string) (string, error) {
	root, err := h.storageRoot()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		return "", errOutsideStorage
	}
	p = filepath.Clean(p)
	if !within(root, p) {
		return "", errOutsideStorage
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("storage path: %w", err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("recording file: %w", err)
	}
	if !within(realRoot, real) {
		return "", errOutsideStorage
	}
	return real, nil
}

func (h *recordingsHandler) handleDeleteRecording(ctx *fasthttp.RequestCtx) {
	if it, ok := h.loadRecording(ctx); ok && h.deleteItem(ctx, it) {
		writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Recording deleted successfully"})
	}
}

// deleteItem deletes a recording through the storage controller, or
// answers why not (409 protected or being written, 403 a file outside
// storage) and returns false.
func (h *recordingsHandler) deleteItem(ctx *fasthttp.RequestCtx, it *db.RecordingItem) bool {
	switch {
	case it.Protected:
		writeErrorf(ctx, fasthttp.StatusConflict, "recording %d is protected; unprotect it first", it.ID)
		return false
	case !it.IsComplete:
		writeErrorf(ctx, fasthttp.StatusConflict, "recording %d is still being written", it.ID)
		return false
	}
	if err := h.deletable(it); err != nil {
		writeErrorf(ctx, fasthttp.StatusForbidden, "recording %d: %v", it.ID, err)
		return false
	}
	n, err := h.deleteIDs(requestContext(ctx), []int64{it.ID})
	if err != nil {
		h.fail(ctx, "delete recording", err)
		return false
	}
	if n == 0 {
		// Protected or reopened between the check and the move.
		writeErrorf(ctx, fasthttp.StatusConflict, "recording %d cannot be deleted now (protected or being written)", it.ID)
		return false
	}
	return true
}

// deletable refuses rows whose file lies outside the storage directory. A
// file already gone is fine: the row alone is removed.
func (h *recordingsHandler) deletable(it *db.RecordingItem) error {
	_, err := h.recordingFile(it.FilePath)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// recordingWriter changes what storage keeps: protection and retention go
// through the storage controller, the one owner of recording changes.
type recordingWriter struct {
	*recordingsHandler
	store *storage.Controller
}

func (h *recordingWriter) handleProtectRecording(ctx *fasthttp.RequestCtx) {
	var body struct {
		Protected *bool `json:"protected"`
	}
	id, ok := recordingRequest(ctx, &body)
	if !ok {
		return
	}
	if body.Protected == nil {
		writeError(ctx, fasthttp.StatusBadRequest, `field "protected" (true or false) is required`)
		return
	}
	n, err := h.store.Protect(requestContext(ctx), []int64{id}, *body.Protected)
	if err != nil {
		h.fail(ctx, "protect recording", err)
		return
	}
	if n == 0 {
		writeErrorf(ctx, fasthttp.StatusNotFound, "recording %d not found", id)
		return
	}
	msg := "Recording protected"
	if !*body.Protected {
		msg = "Recording unprotected"
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"id": id, "protected": *body.Protected, "message": msg})
}

func (h *recordingWriter) handleBatchProtect(ctx *fasthttp.RequestCtx) {
	var body struct {
		IDs       []int64 `json:"ids"`
		Protected *bool   `json:"protected"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	ids, err := cleanIDs(body.IDs)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if body.Protected == nil {
		writeError(ctx, fasthttp.StatusBadRequest, `field "protected" (true or false) is required`)
		return
	}
	n, err := h.store.Protect(requestContext(ctx), ids, *body.Protected)
	if err != nil {
		h.fail(ctx, "protect recordings", err)
		return
	}
	verb := "protected"
	if !*body.Protected {
		verb = "unprotected"
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success_count": n, "fail_count": int64(len(ids)) - n,
		"protected": *body.Protected, "message": fmt.Sprintf("%d of %d recordings %s", n, len(ids), verb)})
}

// maxBatchIDs bounds one batch request's id list.
const maxBatchIDs = 10000

// cleanIDs checks a request's id list and drops duplicates.
func cleanIDs(in []int64) ([]int64, error) {
	if len(in) == 0 {
		return nil, errors.New(`field "ids" must list at least one recording id`)
	}
	if len(in) > maxBatchIDs {
		return nil, fmt.Errorf("%d ids; at most %d per request", len(in), maxBatchIDs)
	}
	out := make([]int64, 0, len(in))
	seen := make(map[int64]bool, len(in))
	for _, id := range in {
		if id <= 0 {
			return nil, fmt.Errorf("invalid recording id %d: a positive integer", id)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

func (h *recordingWriter) handleRecordingRetention(ctx *fasthttp.RequestCtx) {
	var body struct {
		RetentionDays *int `json:"retention_days"`
	}
	id, ok := recordingRequest(ctx, &body)
	if !ok {
		return
	}
	if body.RetentionDays == nil {
		writeError(ctx, fasthttp.StatusBadRequest, `field "retention_days" is required (days; 0 keeps forever, negative clears the override)`)
		return
	}
	days := *body.RetentionDays
	err := h.store.SetRetentionOverride(requestContext(ctx), id, days)
	if errors.Is(err, storage.ErrInvalid) {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if errors.Is(err, db.ErrRecordingNotFound) {
		writeErrorf(ctx, fasthttp.StatusNotFound, "recording %d not found", id)
		return
	}
	if err != nil {
		h.fail(ctx, "set recording retention", err)
		return
	}
	msg := fmt.Sprintf("Retention override set to %d days", days)
	switch {
	case days == 0:
		msg = "Recording kept forever (retention override 0)"
	case days < 0:
		msg = "Retention override cleared"
	}
	// A negative value cleared the override: the reply says null.
	var v *int
	if days >= 0 {
		v = &days
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"id": id, "retention_days": v, "message": msg})
}

func (h *recordingsHandler) handleCountProtected(ctx *fasthttp.RequestCtx) {
	stream := string(ctx.QueryArgs().Peek("stream"))
	n, err := db.CountProtected(requestContext(ctx), h.db, stream)
	if err != nil {
		h.fail(ctx, "count protected recordings", err)
		return
	}
	out := map[string]any{"protected_count": n}
	if stream != "" {
		out["stream_name"] = stream
	}
	writeJSON(ctx, fasthttp.StatusOK, out)
}
