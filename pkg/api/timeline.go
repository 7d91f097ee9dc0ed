package api

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
)

var timelineRoutes = []endpoint[*timelineHandler]{
	{"GET", "/api/timeline/segments", auth.AccessViewer, (*timelineHandler).handleSegments},
	{"GET", "/api/timeline/segments-by-ids", auth.AccessViewer, (*timelineHandler).handleSegmentsByIDs},
	{"GET", "/api/timeline/manifest", auth.AccessViewer, (*timelineHandler).handleManifest},
	{"GET", "/api/timeline/play", auth.AccessViewer, (*timelineHandler).handlePlay},
}

const (
	// maxTimelineSegments is LightNVR's cap on one answer: a day of
	// 10-second segments. A longer span is answered truncated, and says so.
	maxTimelineSegments = 8640
	// detectionMergeGap joins detections this close (seconds) into one
	// marker, so a scene busy for a minute is one interval, not sixty.
	detectionMergeGap = 5
	// playSearchSeconds is how far from the asked moment play looks for a
	// recording when none covers it (LightNVR's hour).
	playSearchSeconds = 3600
	// localTimeLayout is how LightNVR shows times: server local time.
	localTimeLayout = "2006-01-02 15:04:05"
)

// timelineHandler serves the timeline: which recordings of a stream cover a
// span of time, where its detections lie, and which recording plays a given
// moment. Everything comes from the recordings rows and their part index.
type timelineHandler struct {
	failer
	db *db.DB
}

// segmentJSON is LightNVR's timeline segment.
type segmentJSON struct {
	ID                  int64  `json:"id"`
	Stream              string `json:"stream"`
	StartTime           string `json:"start_time"`
	EndTime             string `json:"end_time"`
	Duration            int64  `json:"duration"`
	Size                string `json:"size"`
	HasDetection        bool   `json:"has_detection"`
	ScheduleRestricted  *bool  `json:"schedule_restricted"`
	StartTimestamp      int64  `json:"start_timestamp"`
	EndTimestamp        int64  `json:"end_timestamp"`
	LocalStartTimestamp int64  `json:"local_start_timestamp"`
	LocalEndTimestamp   int64  `json:"local_end_timestamp"`
}

type intervalJSON struct {
	StartTimestamp int64 `json:"start_timestamp"`
	EndTimestamp   int64 `json:"end_timestamp"`
}

// extent is where a segment lies in unix seconds: from the part index when
// the recording has one (its exact media extent, the end rounded up), else
// from its row, a recording still being written reaching up to now.
func extent(s *db.TimelineSegment, now int64) (start, end int64) {
	if s.Indexed && s.StartUS > 0 {
		start = s.StartUS / 1e6
		end = (s.StartUS + s.DurationUS + 999_999) / 1e6
	} else {
		start, end = s.StartTime, s.EndTime
		if end == 0 && !s.IsComplete {
			end = now
		}
	}
	return start, max(end, start)
}

func toSegmentJSON(s *db.TimelineSegment, now int64) segmentJSON {
	start, end := extent(s, now)
	return segmentJSON{
		ID: s.ID, Stream: s.StreamName, StartTime: localTime(start), EndTime: localTime(end),
		Duration: end - start, Size: humanSize(s.SizeBytes), HasDetection: s.HasDetection,
		ScheduleRestricted: s.ScheduleRestricted, StartTimestamp: start, EndTimestamp: end,
		// LightNVR sends the same instants again: the browser localises.
		LocalStartTimestamp: start, LocalEndTimestamp: end,
	}
}

func localTime(unix int64) string { return time.Unix(unix, 0).Format(localTimeLayout) }

func toSegmentsJSON(rows []*db.TimelineSegment, now int64) []segmentJSON {
	out := make([]segmentJSON, len(rows))
	for i, s := range rows {
		out[i] = toSegmentJSON(s, now)
	}
	return out
}

// timelineQuery is a parsed stream/start/end query.
type timelineQuery struct {
	stream     string
	start, end int64
}

// parseTimelineQuery reads stream, start and end. start defaults to 24
// hours before end, end to now; a date-only end means the end of that day (UTC),
// as in LightNVR. On failure it has replied 400.
func parseTimelineQuery(ctx *fasthttp.RequestCtx) (timelineQuery, bool) {
	args := ctx.QueryArgs()
	q := timelineQuery{stream: string(args.Peek("stream")), end: time.Now().Unix()}
	if q.stream == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "Missing required parameter: stream")
		return q, false
	}
	var err error
	if v := string(args.Peek("end")); v != "" {
		if q.end, err = parseAPITime(v); err != nil {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "end: %v", err)
			return q, false
		}
		if isDateOnly(v) {
			q.end += 86399
		}
	}
	q.start = q.end - 86400
	if v := string(args.Peek("start")); v != "" {
		if q.start, err = parseAPITime(v); err != nil {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "start: %v", err)
			return q, false
		}
	}
	if q.end < q.start {
		writeError(ctx, fasthttp.StatusBadRequest, "end is before start")
		return q, false
	}
	return q, true
}

func isDateOnly(v string) bool {
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

// knownStream answers 404 unless the stream exists; on failure it has replied.
func (h *timelineHandler) knownStream(ctx *fasthttp.RequestCtx, name string) bool {
	_, err := db.StreamByName(requestContext(ctx), h.db, name)
	if errors.Is(err, db.ErrStreamNotFound) {
		writeErrorf(ctx, fasthttp.StatusNotFound, "stream %q not found", name)
		return false
	}
	if err != nil {
		h.fail(ctx, "timeline", err)
		return false
	}
	return true
}

// spanSegments parses a stream/start/end query and reads the recordings
// overlapping its span, at most limit of them; on failure it has replied.
func (h *timelineHandler) spanSegments(ctx *fasthttp.RequestCtx, now int64, limit int) (timelineQuery, []*db.TimelineSegment, bool) {
	q, ok := parseTimelineQuery(ctx)
	if !ok {
		return q, nil, false
	}
	rows, ok := h.segments(ctx, q, now, limit)
	return q, rows, ok
}

// segments reads the recordings of q's stream overlapping q's span, at most
// limit of them; on failure it has replied.
func (h *timelineHandler) segments(ctx *fasthttp.RequestCtx, q timelineQuery, now int64, limit int) ([]*db.TimelineSegment, bool) {
	if !h.knownStream(ctx, q.stream) {
		return nil, false
	}
	rows, err := db.TimelineSegments(requestContext(ctx), h.db, q.stream, q.start, q.end, now, limit)
	if err != nil {
		h.fail(ctx, "timeline segments", err)
		return nil, false
	}
	return rows, true
}

func (h *timelineHandler) handleSegments(ctx *fasthttp.RequestCtx) {
	now := time.Now().Unix()
	// One more than the cap tells a full answer from a truncated one.
	q, rows, ok := h.spanSegments(ctx, now, maxTimelineSegments+1)
	if !ok {
		return
	}
	truncated := len(rows) > maxTimelineSegments
	rows = rows[:min(len(rows), maxTimelineSegments)]
	spans, err := db.DetectionSpans(requestContext(ctx), h.db, q.stream, q.start, q.end)
	if err != nil {
		h.fail(ctx, "timeline detections", err)
		return
	}
	intervals := mergeSpans(spans, q.start, q.end, detectionMergeGap)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"segments": toSegmentsJSON(rows, now), "segment_count": len(rows), "truncated": truncated,
		"detection_intervals": intervals, "detection_interval_count": len(intervals),
		"stream": q.stream, "start_time": localTime(q.start), "end_time": localTime(q.end),
	})
}

// mergeSpans clips spans (in start order) to [from, to] and joins those
// less than gap seconds apart.
func mergeSpans(spans []db.Span, from, to, gap int64) []intervalJSON {
	out := []intervalJSON{}
	for _, s := range spans {
		s.Start, s.End = max(s.Start, from), min(s.End, to)
		if s.End < s.Start {
			continue
		}
		if n := len(out); n > 0 && s.Start-out[n-1].EndTimestamp <= gap {
			out[n-1].EndTimestamp = max(out[n-1].EndTimestamp, s.End)
			continue
		}
		out = append(out, intervalJSON{StartTimestamp: s.Start, EndTimestamp: s.End})
	}
	return out
}

func (h *timelineHandler) handleSegmentsByIDs(ctx *fasthttp.RequestCtx) {
	items := csvArg(string(ctx.QueryArgs().Peek("ids")))
	if len(items) == 0 {
		writeError(ctx, fasthttp.StatusBadRequest, "Missing required parameter: ids")
		return
	}
	ids, err := parseIDList(items)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	f := db.RecordingFilter{IDs: ids}
	if err := limitToVisible(ctx, h.db, &f); err != nil {
		h.fail(ctx, "timeline segments", err)
		return
	}
	rows, err := db.TimelineSegmentsOf(requestContext(ctx), h.db, f)
	if err != nil {
		h.fail(ctx, "timeline segments", err)
		return
	}
	now := time.Now().Unix()
	segs := toSegmentsJSON(rows, now)
	var first, last int64
	for i, s := range segs {
		if i == 0 || s.StartTimestamp < first {
			first = s.StartTimestamp
		}
		last = max(last, s.EndTimestamp)
	}
	span := func(t int64) string {
		if t == 0 {
			return ""
		}
		return localTime(t)
	}
	// LightNVR names no stream here: the ids may come from several.
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"segments": segs, "segment_count": len(segs), "stream": "(selected)", "multi_stream": true,
		"start_time": span(first), "end_time": span(last),
	})
}

// parseIDList reads the items of the ids query of segments-by-ids:
// recording ids, at most maxTimelineSegments of them.
func parseIDList(items []string) ([]int64, error) {
	if len(items) > maxTimelineSegments {
		return nil, fmt.Errorf("%d ids; at most %d per request", len(items), maxTimelineSegments)
	}
	ids := make([]int64, len(items))
	for i, it := range items {
		id, err := strconv.ParseInt(it, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("invalid recording id %q: a positive integer", it)
		}
		ids[i] = id
	}
	return ids, nil
}

// handleManifest answers LightNVR's playlist: one entry, as long as the
// longest segment in the span, that plays through /api/timeline/play from
// the span's start.
func (h *timelineHandler) handleManifest(ctx *fasthttp.RequestCtx) {
	now := time.Now().Unix()
	q, rows, ok := h.spanSegments(ctx, now, maxTimelineSegments)
	if !ok {
		return
	}
	if len(rows) == 0 {
		writeError(ctx, fasthttp.StatusNotFound, "No recordings found for the specified time range")
		return
	}
	var longest int64
	for _, s := range rows {
		start, end := extent(s, now)
		longest = max(longest, end-start)
	}
	playlist := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-ALLOW-CACHE:YES\n#EXT-X-TARGETDURATION:%d\n"+
		"#EXTINF:%d.000000,\n/api/timeline/play?stream=%s&start=%d\n#EXT-X-ENDLIST\n", longest+1, longest, url.QueryEscape(q.stream), q.start)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.SetContentType("application/vnd.apple.mpegurl")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBodyString(playlist)
}

// handlePlay redirects to the recording covering start (default now), or
// the nearest one within an hour of it.
func (h *timelineHandler) handlePlay(ctx *fasthttp.RequestCtx) {
	stream := string(ctx.QueryArgs().Peek("stream"))
	if stream == "" {
		writeError(ctx, fasthttp.StatusBadRequest, "Missing required parameter: stream")
		return
	}
	now := time.Now().Unix()
	at := now
	if v := string(ctx.QueryArgs().Peek("start")); v != "" {
		var err error
		if at, err = parseAPITime(v); err != nil {
			writeErrorf(ctx, fasthttp.StatusBadRequest, "start: %v", err)
			return
		}
	}
	rows, ok := h.segments(ctx, timelineQuery{stream: stream, start: at - playSearchSeconds, end: at + playSearchSeconds}, now, maxTimelineSegments)
	if !ok {
		return
	}
	id := nearestSegment(rows, at, now)
	if id == 0 {
		writeError(ctx, fasthttp.StatusNotFound, "No recordings found for the specified time")
		return
	}
	ctx.Response.Header.Set("Location", "/api/recordings/play/"+strconv.FormatInt(id, 10))
	ctx.SetStatusCode(fasthttp.StatusFound)
}

// nearestSegment is the id of the segment covering at, else of the one
// closest to it; 0 when rows is empty.
func nearestSegment(rows []*db.TimelineSegment, at, now int64) int64 {
	var id int64
	best := int64(-1)
	for _, s := range rows {
		start, end := extent(s, now)
		d := max(start-at, at-end, 0)
		if best < 0 || d < best {
			id, best = s.ID, d
		}
	}
	return id
}
