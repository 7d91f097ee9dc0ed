package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/event"
)

// zonesHandler serves a stream's detection zones.
type zonesHandler struct {
	*streamsHandler
}

// detectionHandler serves what the detectors stored and which detectors
// there are.
type detectionHandler struct {
	*streamsHandler
	cfg func() *config.Config
}

// eventFeed serves the bus's events live, as server-sent events.
type eventFeed struct {
	bus *event.Bus
}

// /api/recordings/detection-labels goes before /api/recordings/{id}, which
// would take it otherwise: detectionRoutes are mounted first.
var (
	zoneReadRoutes = []endpoint[*zonesHandler]{
		{"GET", "/api/streams/{name}/zones", auth.AccessViewer, (*zonesHandler).handleGetZones},
	}
	zoneWriteRoutes = []endpoint[*zonesHandler]{
		{"POST", "/api/streams/{name}/zones", auth.AccessWriter, (*zonesHandler).handleSetZones},
		{"DELETE", "/api/streams/{name}/zones", auth.AccessWriter, (*zonesHandler).handleDeleteZones},
	}
	detectionRoutes = []endpoint[*detectionHandler]{
		{"GET", "/api/detection/results/{stream}", auth.AccessViewer, (*detectionHandler).handleResults},
		{"GET", "/api/detection/models", auth.AccessViewer, (*detectionHandler).handleModels},
		{"GET", "/api/recordings/detection-labels", auth.AccessViewer, (*detectionHandler).handleLabels},
	}
	eventFeedRoutes = []endpoint[*eventFeed]{
		{"GET", "/api/events", auth.AccessViewer, (*eventFeed).handleEvents},
	}
)

// detectionRoutes mounts the zone, detection and live event routes.
func (s *Server) detectionRoutes(deps *Deps) {
	r, ready := &s.router, deps.DB != nil
	down := unavailable("database is not open")
	reads := &streamsHandler{failer: s.failer, db: deps.DB}
	zones := func() *zonesHandler { return &zonesHandler{reads} }
	mount(r, zoneReadRoutes, ready, down, zones)
	mount(r, zoneWriteRoutes, ready, down, zones)
	mount(r, detectionRoutes, ready, down, func() *detectionHandler { return &detectionHandler{reads, s.settings.get} })
	mount(r, eventFeedRoutes, deps.Events != nil, unavailable("the event bus is not running"),
		func() *eventFeed { return &eventFeed{bus: deps.Events} })
}

// zoneJSON is a zone as LightNVR's API carries it.
type zoneJSON struct {
	ID            string         `json:"id"`
	Name          string         `json:"name"`
	Enabled       *bool          `json:"enabled,omitempty"` // absent: enabled
	Color         string         `json:"color"`
	Polygon       []detect.Point `json:"polygon"`
	FilterClasses string         `json:"filter_classes"`
	MinConfidence float64        `json:"min_confidence"`
}

const (
	defaultZoneColor = "#3b82f6"
	maxZoneID        = 64
	maxZoneName      = 128
)

var zoneColorRe = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

func (h *zonesHandler) handleGetZones(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	rows, err := db.StreamZones(requestContext(ctx), h.db, s.Name)
	if err != nil {
		h.fail(ctx, "list zones", err)
		return
	}
	out := make([]zoneJSON, 0, len(rows))
	for _, r := range rows {
		pts, err := detect.ParsePolygon(r.Polygon)
		if err != nil {
			h.fail(ctx, "list zones", err)
			return
		}
		out = append(out, zoneJSON{ID: r.ID, Name: r.Name, Enabled: &r.Enabled, Color: r.Color, Polygon: pts,
			FilterClasses: r.FilterClasses, MinConfidence: r.MinConfidence})
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"zones": out})
}

func (h *zonesHandler) handleSetZones(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	var body struct {
		Zones *[]zoneJSON `json:"zones"`
	}
	if !readJSON(ctx, &body) {
		return
	}
	if body.Zones == nil {
		writeError(ctx, fasthttp.StatusBadRequest, "zones is required: send {\"zones\": []} to remove every zone")
		return
	}
	rows, err := zoneRows(*body.Zones)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	err = db.ReplaceZones(requestContext(ctx), h.db, s.Name, rows)
	if errors.Is(err, db.ErrZoneIDTaken) {
		err = &statusError{status: fasthttp.StatusConflict, msg: "a zone id is already used by another stream: zone ids are unique"}
	}
	if err != nil {
		h.fail(ctx, "save zones", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Zones saved successfully", "count": len(rows)})
}

// zoneRows checks the zones of a request and turns them into rows. As in
// LightNVR, an entry without id, name or polygon is skipped.
func zoneRows(zones []zoneJSON) ([]db.Zone, error) {
	if len(zones) > detect.MaxZones {
		return nil, fmt.Errorf("%d zones: a stream has at most %d", len(zones), detect.MaxZones)
	}
	var rows []db.Zone
	seen := map[string]bool{}
	for _, z := range zones {
		if z.ID == "" || z.Name == "" || len(z.Polygon) == 0 {
			continue
		}
		if err := checkZone(z, seen); err != nil {
			return nil, fmt.Errorf("zone %q: %w", z.ID, err)
		}
		seen[z.ID] = true
		row := db.Zone{ID: z.ID, Name: z.Name, Enabled: z.Enabled == nil || *z.Enabled, Color: z.Color,
			Polygon: detect.EncodePolygon(z.Polygon), FilterClasses: strings.Join(detect.SplitLabels(z.FilterClasses), ","),
			MinConfidence: z.MinConfidence}
		if row.Color == "" {
			row.Color = defaultZoneColor
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func checkZone(z zoneJSON, seen map[string]bool) error {
	switch {
	case seen[z.ID]:
		return errors.New("the id is given twice")
	case len(z.ID) > maxZoneID:
		return fmt.Errorf("the id is longer than %d characters", maxZoneID)
	case len(z.Name) > maxZoneName:
		return fmt.Errorf("the name is longer than %d characters", maxZoneName)
	case z.Color != "" && !zoneColorRe.MatchString(z.Color):
		return fmt.Errorf("color %q is not #rrggbb", z.Color)
	case !(z.MinConfidence >= 0 && z.MinConfidence <= 1):
		return fmt.Errorf("min_confidence %g is not within 0..1", z.MinConfidence)
	}
	return detect.CheckPolygon(z.Polygon)
}

func (h *zonesHandler) handleDeleteZones(ctx *fasthttp.RequestCtx) {
	s, ok := h.loadStream(ctx)
	if !ok {
		return
	}
	if _, err := db.DeleteZones(requestContext(ctx), h.db, s.Name); err != nil {
		h.fail(ctx, "delete zones", err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Zones deleted successfully"})
}

// maxDetectionResults bounds one reply of /api/detection/results.
const maxDetectionResults = 1000

// minResultsWindow is LightNVR's shortest default window of detection
// results; it is twice the stream's detection interval when that is longer.
const minResultsWindow = 30

type detectionJSON struct {
	Label        string  `json:"label"`
	Confidence   float64 `json:"confidence"`
	X            float64 `json:"x"`
	Y            float64 `json:"y"`
	Width        float64 `json:"width"`
	Height       float64 `json:"height"`
	Timestamp    int64   `json:"timestamp"`
	EndTimestamp int64   `json:"end_timestamp"`
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
		out = append(out, detectionJSON{Label: r.Label, Confidence: r.Confidence, X: r.X, Y: r.Y, Width: r.Width,
			Height: r.Height, Timestamp: r.Timestamp, EndTimestamp: r.EventEndTime})
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

// modelJSON is one detector of /api/detection/models.
type modelJSON struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Path              string `json:"path"`
	Type              string `json:"type"`
	Supported         bool   `json:"supported"`
	UnsupportedReason string `json:"unsupported_reason,omitempty"`
	Size              int64  `json:"size,omitempty"`
	Description       string `json:"description,omitempty"`
}

// builtinModels are the detectors that need no model file.
var builtinModels = []modelJSON{
	{ID: "motion", Name: "Motion", Path: "motion", Type: "motion", Supported: true,
		Description: "Motion measured in the compressed stream, without decoding"},
	{ID: "api", Name: "External detector", Path: "api", Type: "api", Supported: true,
		Description: "Frames posted to the HTTP detector of [api_detection] or the stream's detection URL"},
	{ID: "onvif", Name: "ONVIF events", Path: "onvif", Type: "onvif",
		UnsupportedReason: "ONVIF event subscription is not available yet",
		Description:       "The camera's own motion and analytics events"},
}

const noInference = "models run in an external detector: this build has no in-process inference"

func (h *detectionHandler) handleModels(ctx *fasthttp.RequestCtx) {
	models := slices.Clone(builtinModels)
	out := map[string]any{"litert_available": false, "sod_available": false}
	dir := h.cfg().Models.Path
	files, err := modelFiles(dir)
	if err != nil {
		out["message"] = "models directory cannot be read"
		h.log.Warn("list models", "dir", dir, "err", err)
	}
	models = append(models, files...)
	out["models"], out["count"] = models, len(models)
	writeJSON(ctx, fasthttp.StatusOK, out)
}

// modelFiles lists the model files of dir; a missing directory has none.
func modelFiles(dir string) ([]modelJSON, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []modelJSON
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, modelJSON{ID: e.Name(), Name: e.Name(), Path: filepath.Join(dir, e.Name()),
			Type: modelType(e.Name()), UnsupportedReason: noInference, Size: info.Size()})
	}
	return out, nil
}

func modelType(name string) string {
	switch {
	case strings.HasSuffix(name, ".tflite"):
		return "tflite"
	case strings.Contains(name, ".sod"):
		return "sod"
	case strings.HasSuffix(name, ".onnx"):
		return "onnx"
	}
	return "unknown"
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

const (
	// feedBuffer is how many events wait for a slow browser before the
	// bus drops them for it.
	feedBuffer = 64
	// feedKeepAlive is how often an idle feed writes a comment, which also
	// notices a browser that went away.
	feedKeepAlive = 15 * time.Second
)

// feedEvent is an event as the live feed sends it: only what the UI shows.
type feedEvent struct {
	Stream     string            `json:"stream"`
	Time       string            `json:"time"` // RFC 3339, UTC
	Timestamp  int64             `json:"timestamp"`
	Source     event.Source      `json:"source"`
	Detections []event.Detection `json:"detections"`
	// Snapshot is the URL of the event's frame, when one was kept.
	Snapshot string `json:"snapshot,omitempty"`
}

func newFeedEvent(e event.Event) feedEvent {
	f := feedEvent{Stream: e.Stream, Time: e.Time.UTC().Format(time.RFC3339), Timestamp: e.Time.Unix(),
		Source: e.Source, Detections: e.Detections}
	if f.Detections == nil {
		f.Detections = []event.Detection{}
	}
	if e.Snapshot != "" {
		f.Snapshot = "/api/snapshots/" + e.Stream + "/" + filepath.Base(e.Snapshot)
	}
	return f
}

// handleEvents streams the bus's events, of one stream with ?stream=, until
// the browser leaves or the server stops.
func (h *eventFeed) handleEvents(ctx *fasthttp.RequestCtx) {
	only := string(ctx.QueryArgs().Peek("stream"))
	sub := h.bus.Subscribe(feedBuffer)
	stopped := ctx.Done() // closed when the server shuts down
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no") // no proxy buffering
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sub.Close()
		writeFeed(w, sub, stopped, only)
	})
}

// writeFeed writes events until a write fails or stopped closes. The first
// line is a comment, so a client knows its subscription is in place.
func writeFeed(w *bufio.Writer, sub *event.Subscription, stopped <-chan struct{}, only string) {
	keepAlive := time.NewTicker(feedKeepAlive)
	defer keepAlive.Stop()
	if !sendFeed(w, ": subscribed\nretry: 3000\n\n") {
		return
	}
	for {
		select {
		case e, open := <-sub.C():
			if !open {
				return
			}
			if only != "" && e.Stream != only {
				continue
			}
			b, err := json.Marshal(newFeedEvent(e))
			if err != nil || !sendFeed(w, "event: detection\ndata: "+string(b)+"\n\n") {
				return
			}
		case <-keepAlive.C:
			if !sendFeed(w, ": keep-alive\n\n") {
				return
			}
		case <-stopped:
			return
		}
	}
}

func sendFeed(w *bufio.Writer, s string) bool {
	if _, err := w.WriteString(s); err != nil {
		return false
	}
	return w.Flush() == nil
}
