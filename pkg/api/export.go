package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/export"
)

var exportRoutes = []endpoint[*exportHandler]{
	{"GET", "/api/export", auth.AccessViewer, (*exportHandler).handleExport},
}

// maxExportSpan bounds one export: a progressive moov for longer would
// not fit a small board's memory, and a player never needs more at once.
const maxExportSpan = 24 * time.Hour

// exportHandler serves any time range of a stream as one MP4.
type exportHandler struct {
	failer
	db    *db.DB
	cache *export.Cache
}

func (s *Server) exportRoutes(deps *Deps) {
	mount(&s.router, exportRoutes, deps.DB != nil, unavailable("database is not available"), func() *exportHandler {
		return &exportHandler{failer: s.failer, db: deps.DB, cache: export.NewCache(4)}
	})
}

// exportArgs are the query of GET /api/export.
type exportArgs struct {
	stream     string
	start, end time.Time
	format     export.Format
}

func parseExportArgs(ctx *fasthttp.RequestCtx) (exportArgs, error) {
	q := ctx.QueryArgs()
	a := exportArgs{stream: string(q.Peek("stream"))}
	if a.stream == "" {
		return a, errors.New("stream is required")
	}
	var err error
	if a.format, err = export.ParseFormat(string(q.Peek("format"))); err != nil {
		return a, err
	}
	if a.start, err = parseExportTime(string(q.Peek("start"))); err != nil {
		return a, fmt.Errorf("start: %w", err)
	}
	if a.end, err = parseExportTime(string(q.Peek("end"))); err != nil {
		return a, fmt.Errorf("end: %w", err)
	}
	if !a.end.After(a.start) {
		return a, errors.New("end must be after start")
	}
	if a.end.Sub(a.start) > maxExportSpan {
		return a, fmt.Errorf("range longer than %s", maxExportSpan)
	}
	return a, nil
}

// parseExportTime reads unix seconds, LightNVR's UTC forms, or RFC 3339
// with an offset.
func parseExportTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v)); err == nil {
		return t, nil
	}
	sec, err := parseAPITime(v)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(sec, 0), nil
}

func (h *exportHandler) handleExport(ctx *fasthttp.RequestCtx) {
	a, err := parseExportArgs(ctx)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	rctx := requestContext(ctx)
	if _, err := db.StreamByName(rctx, h.db, a.stream); err != nil {
		h.fail(ctx, "export", err)
		return
	}
	recs, err := db.IndexedRecordingsBetween(rctx, h.db, a.stream, a.start.UnixMicro(), a.end.UnixMicro())
	if err != nil {
		h.fail(ctx, "export", err)
		return
	}
	plan, err := export.NewPlan(recs, a.start, a.end, a.format)
	if err == nil {
		var e *export.Export
		if e, err = h.cache.Build(plan); err == nil {
			if err = e.Check(); err == nil {
				h.send(ctx, a, e)
				return
			}
		}
	}
	switch {
	case errors.Is(err, export.ErrNothingRecorded):
		writeErrorf(ctx, fasthttp.StatusNotFound, "stream %q has no recording between %s and %s", a.stream,
			a.start.UTC().Format(time.RFC3339), a.end.UTC().Format(time.RFC3339))
	case errors.Is(err, export.ErrMissingFile):
		h.log.Warn("export: recording file missing", "stream", a.stream, "err", err)
		writeError(ctx, fasthttp.StatusNotFound, "a recording in the range has no file")
	case errors.Is(err, export.ErrTooLarge):
		writeError(ctx, fasthttp.StatusRequestEntityTooLarge, err.Error())
	default:
		h.fail(ctx, "export", err)
	}
}

// send writes the headers that say what the export holds, then the
// requested bytes.
func (h *exportHandler) send(ctx *fasthttp.RequestCtx, a exportArgs, e *export.Export) {
	hdr := &ctx.Response.Header
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("ETag", e.ETag)
	hdr.Set("Cache-Control", "private, no-cache")
	hdr.Set("X-Export-Start", e.Start.UTC().Format(time.RFC3339Nano))
	hdr.Set("X-Export-End", e.End.UTC().Format(time.RFC3339Nano))
	if len(e.Gaps) > 0 {
		gaps := make([]string, len(e.Gaps))
		for i, g := range e.Gaps {
			gaps[i] = g.Start.UTC().Format(time.RFC3339Nano) + "/" + g.End.UTC().Format(time.RFC3339Nano)
		}
		hdr.Set("X-Export-Gaps", strings.Join(gaps, ","))
	}
	disposition := "inline"
	if a.format == export.Progressive {
		disposition = "attachment"
	}
	name := downloadName(fmt.Sprintf("%s_%s.mp4", a.stream, e.Start.UTC().Format("20060102T150405Z")))
	hdr.Set("Content-Disposition", disposition+`; filename="`+name+`"`)
	start, length, done := byteRange(ctx, e.ETag, time.Time{}, e.Size)
	if done {
		return
	}
	ctx.SetContentType("video/mp4")
	ctx.SetBodyStream(e.NewReader(start, length), int(length))
}
