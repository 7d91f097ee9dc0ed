package api

import (
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

// Storage and retention routes: LightNVR's /api/storage/health and
// cleanup and per-stream retention, plus GET /api/storage, the summary
// behind the UI's chart. (Recording protection and retention override are
// recording routes.) LightNVR leaves the write routes public; here they
// need a writer.
func (s *Server) registerStorageRoutes() {
	s.route("GET", "/api/storage", auth.AccessViewer, s.handleStorageSummary)
	s.route("GET", "/api/storage/health", auth.AccessViewer, s.handleStorageHealth)
	s.route("POST", "/api/storage/cleanup", auth.AccessOperator, s.handleStorageCleanup)
	s.route("GET", "/api/streams/{name}/retention", auth.AccessViewer, s.handleGetStreamRetention)
	s.route("PUT", "/api/streams/{name}/retention", auth.AccessWriter, s.handlePutStreamRetention)
}

func (s *Server) storageReady(ctx *fasthttp.RequestCtx) bool {
	if s.deps.Storage == nil || s.deps.DB == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "storage controller not running")
		return false
	}
	return true
}

func (s *Server) handleStorageSummary(ctx *fasthttp.RequestCtx) {
	if !s.storageReady(ctx) {
		return
	}
	days, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("days")))
	sum, err := s.deps.Storage.Summary(requestContext(ctx), days)
	if err != nil {
		writeErrorf(ctx, fasthttp.StatusInternalServerError, "storage summary: %v", err)
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

func (s *Server) handleStorageHealth(ctx *fasthttp.RequestCtx) {
	if !s.storageReady(ctx) {
		return
	}
	st := s.deps.Storage.Status()
	h := storageHealth{
		PressureLevel: st.Level.String(), PressureLevelNum: int(st.Level), FreeSpacePct: st.FreePct,
		FreeSpaceBytes: st.Space.Free, TotalSpaceBytes: st.Space.Total, UsedSpaceBytes: st.Space.Used,
		LastCheckTime: unixOrZero(st.CheckedAt), LastDeepTime: unixOrZero(st.LastDeep),
		CapacityTargetFreePct: st.FloorPct, FillRateBytesPerDay: st.FillRate * 86400,
		ProjectedSecondsToFloor: -1, Unmounted: st.Unmounted, Warning: st.Warning,
	}
	if !seesInternals(ctx) {
		h.Warning = redactPaths(h.Warning)
	}
	if p := st.LastPass; p != nil {
		h.LastCleanupTime, h.LastCleanupDeleted, h.LastCleanupFreed = p.Started.Unix(), p.TotalDeleted(), p.TotalFreed()
	}
	floor := uint64(float64(st.Space.Total) * st.FloorPct / 100)
	if st.FillRate > 0 && st.Space.Free > floor {
		h.ProjectedSecondsToFloor = int64(float64(st.Space.Free-floor) / st.FillRate)
	}
	writeJSON(ctx, fasthttp.StatusOK, h)
}

func (s *Server) handleStorageCleanup(ctx *fasthttp.RequestCtx) {
	if !s.storageReady(ctx) {
		return
	}
	var req struct {
		Aggressive bool `json:"aggressive"`
	}
	if len(ctx.PostBody()) > 0 {
		if err := decodeJSON(ctx, &req); err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, err.Error())
			return
		}
	}
	// Aggressive or not, a pass applies the same rules; it runs at once.
	s.deps.Storage.Kick()
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "aggressive": req.Aggressive,
		"message": "Storage cleanup started"})
}

type retentionBody struct {
	StreamName             string `json:"stream_name"`
	RetentionDays          int    `json:"retention_days"`
	DetectionRetentionDays int    `json:"detection_retention_days"`
	MaxStorageMB           int    `json:"max_storage_mb"`
	Message                string `json:"message,omitempty"`
}

func (s *Server) streamRetention(ctx *fasthttp.RequestCtx) (*db.StreamRetention, bool) {
	if s.deps.DB == nil {
		writeError(ctx, fasthttp.StatusServiceUnavailable, "database not open")
		return nil, false
	}
	r, err := db.GetStreamRetention(requestContext(ctx), s.deps.DB, Param(ctx, "name"))
	if errors.Is(err, db.ErrStreamNotFound) {
		writeError(ctx, fasthttp.StatusNotFound, "Stream not found")
		return nil, false
	}
	if err != nil {
		writeErrorf(ctx, fasthttp.StatusInternalServerError, "%v", err)
		return nil, false
	}
	return r, true
}

func (s *Server) handleGetStreamRetention(ctx *fasthttp.RequestCtx) {
	r, ok := s.streamRetention(ctx)
	if !ok {
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, retentionBody{StreamName: r.Name, RetentionDays: r.RetentionDays,
		DetectionRetentionDays: r.DetectionRetentionDays, MaxStorageMB: r.MaxStorageMB})
}

func (s *Server) handlePutStreamRetention(ctx *fasthttp.RequestCtx) {
	r, ok := s.streamRetention(ctx)
	if !ok {
		return
	}
	var req struct {
		RetentionDays          *int `json:"retention_days"`
		DetectionRetentionDays *int `json:"detection_retention_days"`
		MaxStorageMB           *int `json:"max_storage_mb"`
	}
	if err := decodeJSON(ctx, &req); err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	for _, f := range []struct {
		name string
		v    *int
		dst  *int
		min  int
	}{
		{"retention_days", req.RetentionDays, &r.RetentionDays, -1},
		{"detection_retention_days", req.DetectionRetentionDays, &r.DetectionRetentionDays, -1},
		{"max_storage_mb", req.MaxStorageMB, &r.MaxStorageMB, 0},
	} {
		if f.v == nil {
			continue
		}
		if *f.v < f.min || *f.v > 36500 && f.name != "max_storage_mb" {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "%s must be between %d and 36500 (-1 inherits, 0 unlimited)", f.name, f.min)
			return
		}
		*f.dst = *f.v
	}
	if err := db.SetStreamRetention(requestContext(ctx), s.deps.DB, r); err != nil {
		writeErrorf(ctx, fasthttp.StatusInternalServerError, "%v", err)
		return
	}
	if s.deps.Storage != nil {
		s.deps.Storage.Kick() // a shorter retention or a quota applies now
	}
	writeJSON(ctx, fasthttp.StatusOK, retentionBody{StreamName: r.Name, RetentionDays: r.RetentionDays,
		DetectionRetentionDays: r.DetectionRetentionDays, MaxStorageMB: r.MaxStorageMB,
		Message: "Retention settings updated successfully"})
}
