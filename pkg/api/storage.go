package api

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/storage"
)

// Storage and retention routes: LightNVR's /api/storage/health and
// cleanup and per-stream retention, plus GET /api/storage, the summary
// behind the UI's chart. (Recording protection and retention override are
// recording routes.) LightNVR leaves the write routes public; here they
// need a writer.
// storageHandler serves the storage controller's state and cleanup.
type storageHandler struct {
	failer
	ctl *storage.Controller
}

// retentionHandler serves a stream's retention settings.
type retentionHandler struct {
	failer
	db *db.DB
	// kick starts a storage pass (a no-op without a controller).
	kick func()
}

var (
	storageRoutes = []endpoint[*storageHandler]{
		{"GET", "/api/storage", auth.AccessViewer, (*storageHandler).handleStorageSummary},
		{"GET", "/api/storage/health", auth.AccessViewer, (*storageHandler).handleStorageHealth},
		{"POST", "/api/storage/cleanup", auth.AccessOperator, (*storageHandler).handleStorageCleanup},
	}
	retentionRoutes = []endpoint[*retentionHandler]{
		{"GET", "/api/streams/{name}/retention", auth.AccessViewer, (*retentionHandler).handleGetStreamRetention},
		{"PUT", "/api/streams/{name}/retention", auth.AccessWriter, (*retentionHandler).handlePutStreamRetention},
	}
)

func (h *storageHandler) handleStorageSummary(ctx *fasthttp.RequestCtx) {
	days, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("days")))
	sum, err := h.ctl.Summary(requestContext(ctx), days)
	if err != nil {
		h.fail(ctx, "storage summary", err)
		return
	}
	if !seesInternals(ctx) {
		sum.Status.Warning = redactPaths(sum.Status.Warning)
		sum.Status.Err = redactPaths(sum.Status.Err)
	}
	writeJSON(ctx, fasthttp.StatusOK, sum)
}

// storageHealth is LightNVR's /api/storage/health shape, plus the
// unmounted flag and warning.
type storageHealth struct {
	PressureLevel           string  `json:"pressure_level"`
	PressureLevelNum        int     `json:"pressure_level_num"`
	FreeSpacePct            float64 `json:"free_space_pct"`
	FreeSpaceBytes          uint64  `json:"free_space_bytes"`
	TotalSpaceBytes         uint64  `json:"total_space_bytes"`
	UsedSpaceBytes          uint64  `json:"used_space_bytes"`
	LastCheckTime           int64   `json:"last_check_time"`
	LastCleanupTime         int64   `json:"last_cleanup_time"`
	LastDeepTime            int64   `json:"last_deep_time"`
	LastCleanupDeleted      int     `json:"last_cleanup_deleted"`
	LastCleanupFreed        int64   `json:"last_cleanup_freed"`
	CapacityTargetFreePct   float64 `json:"capacity_target_free_pct"`
	FillRateBytesPerDay     float64 `json:"fill_rate_bytes_per_day"`
	ProjectedSecondsToFloor int64   `json:"projected_seconds_to_target"`
	Unmounted               bool    `json:"unmounted"`
	Warning                 string  `json:"warning,omitempty"`
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func (h *storageHandler) handleStorageHealth(ctx *fasthttp.RequestCtx) {
	st := h.ctl.Status()
	sh := storageHealth{
		PressureLevel: st.Level.String(), PressureLevelNum: int(st.Level), FreeSpacePct: st.FreePct,
		FreeSpaceBytes: st.Space.Free, TotalSpaceBytes: st.Space.Total, UsedSpaceBytes: st.Space.Used,
		LastCheckTime: unixOrZero(st.CheckedAt), LastDeepTime: unixOrZero(st.LastDeep),
		CapacityTargetFreePct: st.FloorPct, FillRateBytesPerDay: st.FillRate * 86400,
		ProjectedSecondsToFloor: -1, Unmounted: st.Unmounted, Warning: st.Warning,
	}
	if !seesInternals(ctx) {
		sh.Warning = redactPaths(sh.Warning)
	}
	if p := st.LastPass; p != nil {
		sh.LastCleanupTime, sh.LastCleanupDeleted, sh.LastCleanupFreed = p.Started.Unix(), p.TotalDeleted(), p.TotalFreed()
	}
	floor := uint64(float64(st.Space.Total) * st.FloorPct / 100)
	if st.FillRate > 0 && st.Space.Free > floor {
		sh.ProjectedSecondsToFloor = int64(float64(st.Space.Free-floor) / st.FillRate)
	}
	writeJSON(ctx, fasthttp.StatusOK, sh)
}

func (h *storageHandler) handleStorageCleanup(ctx *fasthttp.RequestCtx) {
	var req struct {
		Aggressive bool `json:"aggressive"`
	}
	if len(ctx.PostBody()) > 0 {
		if !readJSON(ctx, &req) {
			return
		}
	}
	// Aggressive or not, a pass applies the same rules; it runs at once.
	h.ctl.Kick()
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "aggressive": req.Aggressive,
		"message": "Storage cleanup started"})
}

// retentionBody is the stream's retention route's object: the stream's name
// and its columns tagged retention, as the stream object shows them.
func retentionBody(row *db.Stream, message string) jsonObject {
	out := jsonObject{{"stream_name", row.Name}}
	for _, f := range db.StreamFields() {
		if f.Retention {
			out = append(out, jsonMember{f.Key, *f.Addr(row).(*int)})
		}
	}
	if message != "" {
		out = append(out, jsonMember{"message", message})
	}
	return out
}

func (h *retentionHandler) loadStream(ctx *fasthttp.RequestCtx) (*db.Stream, bool) {
	r, err := db.StreamByName(requestContext(ctx), h.db, Param(ctx, "name"))
	return found(ctx, h.failer, "read stream retention", r, err, db.ErrStreamNotFound, "Stream not found")
}

func (h *retentionHandler) handleGetStreamRetention(ctx *fasthttp.RequestCtx) {
	if row, ok := h.loadStream(ctx); ok {
		writeJSON(ctx, fasthttp.StatusOK, retentionBody(row, ""))
	}
}

// handlePutStreamRetention takes the retention keys of the stream object,
// decoded and checked by the same table as PUT /api/streams/{name}.
func (h *retentionHandler) handlePutStreamRetention(ctx *fasthttp.RequestCtx) {
	row, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	req, err := readStreamRequest(ctx)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if req.Name != nil || req.EnableDisabled != nil || req.SetPrivacyMode != nil || !req.only(func(f *db.StreamField) bool { return f.Retention }) {
		writeError(ctx, fasthttp.StatusBadRequest, "only the retention keys (retention_days, detection_retention_days, max_storage_mb) can be set here")
		return
	}
	if err := req.apply(row); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	if err := db.UpdateStreamRetention(requestContext(ctx), h.db, row); err != nil {
		h.fail(ctx, "save stream retention", err)
		return
	}
	h.kick() // a shorter retention or a quota applies now
	writeJSON(ctx, fasthttp.StatusOK, retentionBody(row, "Retention settings updated successfully"))
}
