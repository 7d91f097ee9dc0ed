package api

import (
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
)

// detectionHandler serves what the detectors stored and which detectors
// there are.
type detectionHandler struct {
	*streamsHandler
	// modelsDir is [models] path, as the live settings have it.
	modelsDir func() string
}

// /api/recordings/detection-labels goes before /api/recordings/{id}, which
// would take it otherwise: detectionRoutes are mounted first.
var detectionRoutes = []endpoint[*detectionHandler]{
	{"GET", "/api/detection/results/{stream}", auth.AccessViewer, (*detectionHandler).handleResults},
	{"GET", "/api/detection/models", auth.AccessViewer, (*detectionHandler).handleModels},
	{"GET", "/api/recordings/detection-labels", auth.AccessViewer, (*detectionHandler).handleLabels},
}

// detectionRoutes mounts the zone, detection and live event routes.
func (s *Server) detectionRoutes(deps *Deps) {
	r, ready := &s.router, deps.DB != nil
	down := unavailable("database is not open")
	reads := &streamsHandler{failer: s.failer, db: deps.DB}
	mount(r, zoneRoutes, ready, down, func() *zonesHandler { return &zonesHandler{reads} })
	mount(r, detectionRoutes, ready, down, func() *detectionHandler {
		return &detectionHandler{reads, func() string { return s.settings.get().Models.Path }}
	})
	mount(r, eventFeedRoutes, deps.Events != nil, unavailable("the event bus is not running"),
		func() *eventFeed { return &eventFeed{bus: deps.Events} })
}

// maxDetectionResults bounds one reply of /api/detection/results.
const maxDetectionResults = 1000

// minResultsWindow is LightNVR's shortest default window of detection
// results; it is twice the stream's detection interval when that is longer.
const minResultsWindow = 30

// detectionJSON is a stored detection: LightNVR's keys, and the track and
// zone the bus carries.
type detectionJSON struct {
	event.Detection
	Timestamp    int64 `json:"timestamp"`
	EndTimestamp int64 `json:"end_timestamp"`
}

func (h *detectionHandler) handleResults(ctx *fasthttp.RequestCtx) {
	name := Param(ctx, "stream")
	row, err := db.StreamByName(requestContext(ctx), h.db, name)
	s, ok := found(ctx, h.failer, "load stream", row, err, db.ErrStreamNotFound, fmt.Sprintf("stream %q not found", name))
	if !ok {
		return
	}
	now := time.Now()
	from, to, err := resultsWindow(ctx.QueryArgs(), now.Unix(), int64(max(minResultsWindow, 2*s.DetectionInterval)))
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	rows, err := db.DetectionsBetween(requestContext(ctx), h.db, s.Name, from, to, maxDetectionResults)
	if err != nil {
		h.fail(ctx, "list detections", err)
		return
	}
	out := make([]detectionJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, detectionJSON{Detection: event.Detection{Label: r.Label, Confidence: r.Confidence, X: r.X, Y: r.Y,
			Width: r.Width, Height: r.Height, TrackID: r.TrackID, ZoneID: r.ZoneID}, Timestamp: r.Timestamp, EndTimestamp: r.EventEndTime})
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"detections": out, "timestamp": now.Format(time.DateTime)})
}

// resultsWindow reads start and end (unix seconds); a missing end is now
// and a missing start is window seconds before end.
func resultsWindow(args *fasthttp.Args, now, window int64) (from, to int64, err error) {
	read := func(key string, def int64) (int64, error) {
		v := string(args.Peek(key))
		if v == "" {
			return def, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%q is not a time in unix seconds", key, v)
		}
		return n, nil
	}
	if to, err = read("end", now); err != nil {
		return 0, 0, err
	}
	if from, err = read("start", to-window); err != nil {
		return 0, 0, err
	}
	if from > to {
		return 0, 0, fmt.Errorf("start %d is after end %d", from, to)
	}
	return from, to, nil
}

func (h *detectionHandler) handleLabels(ctx *fasthttp.RequestCtx) {
	labels, err := db.DetectionLabels(requestContext(ctx), h.db)
	if err != nil {
		h.fail(ctx, "list detection labels", err)
		return
	}
	if labels == nil {
		labels = []string{}
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"labels": labels})
}
