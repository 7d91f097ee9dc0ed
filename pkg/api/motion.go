package api

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/streams"
)

// POST /api/motion/trigger: motion from outside (a PIR, an alarm panel, a
// person with a button) published on the event bus as LightNVR's API does.
// Every consumer of the bus acts on it: the clips of detection-mode streams,
// the detections table, notifications.

const (
	motionDefaultPulse = 2 * time.Second
	motionMaxHold      = 10 * time.Minute
	motionMaxObjects   = 20
	// motionRepeat re-publishes a held trigger within the recorder's grace
	// period, so a clip stays open for as long as the trigger is held.
	motionRepeat = time.Second
	// motionMaxTags is how many of a trigger's tags are used.
	motionMaxTags = 16
	// motionTagWait bounds the wait for the file a trigger's tags go on: a
	// clip the trigger opens is on disk within a few frames.
	motionTagWait = 3 * time.Second
)

// motionHandler publishes triggers and holds the started ones.
type motionHandler struct {
	failer
	db     *db.DB
	bus    *event.Bus
	ingest *streams.Recording // nil: tags cannot be applied

	mu    sync.Mutex
	holds map[string]*motionHold // stream → its held trigger
}

var motionRoutes = []endpoint[*motionHandler]{
	{"POST", "/api/motion/trigger", auth.AccessWriter, (*motionHandler).handleTrigger},
}

func newMotionHandler(f failer, d *db.DB, bus *event.Bus, ingest *streams.Recording) *motionHandler {
	return &motionHandler{failer: f, db: d, bus: bus, ingest: ingest, holds: map[string]*motionHold{}}
}

type motionRequest struct {
	Stream     string            `json:"stream"`
	Action     string            `json:"action"`
	DurationMS *int64            `json:"duration_ms"`
	Label      string            `json:"label"`
	Objects    []json.RawMessage `json:"objects"`
	Confidence *float64          `json:"confidence"`
	Tags       []string          `json:"tags"`
}

func (h *motionHandler) handleTrigger(ctx *fasthttp.RequestCtx) {
	var req motionRequest
	if !readJSON(ctx, &req) {
		return
	}
	hold, dets, err := req.check()
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	s, err := db.StreamByName(requestContext(ctx), h.db, req.Stream)
	if s, ok := found(ctx, h.failer, "motion trigger", s, err, db.ErrStreamNotFound, "Stream not found"); ok {
		reply := motionReply{Success: true, Stream: s.Name, Action: req.Action, DurationMS: hold.Milliseconds()}
		if req.Action == "stop" {
			h.release(s.Name)
		} else {
			h.hold(event.Event{Stream: s.Name, Time: time.Now(), Source: event.SourceAPI, Detections: dets}, hold)
			reply.RecordingTriggered = streams.ModeOf(s) == streams.ModeDetection
			reply.DetectionsStored = len(dets)
		}
		if tags := triggerTags(req.Tags); len(tags) > 0 {
			reply.TagsApplied, reply.Warning = h.tag(ctx, s, tags)
		}
		writeJSON(ctx, fasthttp.StatusAccepted, reply)
	}
}

// triggerTags are the tags of a trigger that are used: trimmed, without
// empty ones or repeats, at most motionMaxTags.
func triggerTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) && len(out) < motionMaxTags {
			out = append(out, t)
		}
	}
	return out
}

// tag puts tags on the file stream s is writing: the open continuous
// segment, or the clip the trigger opened or extended. It returns how many
// were applied, or a warning saying why none were.
func (h *motionHandler) tag(ctx *fasthttp.RequestCtx, s *db.Stream, tags []string) (int, string) {
	if h.ingest == nil || streams.ModeOf(s) == streams.ModeOff {
		return 0, "tags not applied: the stream is not recording"
	}
	wctx, cancel := context.WithTimeout(requestContext(ctx), motionTagWait)
	defer cancel()
	id, err := h.ingest.OpenRecording(wctx, s.Name)
	if err != nil {
		return 0, "tags not applied: no recording of the stream is open"
	}
	if err := db.AddRecordingTags(requestContext(ctx), h.db, id, tags); err != nil {
		h.log.Error("motion trigger tags", "stream", s.Name, "recording", id, "err", err)
		return 0, "tags not applied: the database refused them"
	}
	return len(tags), ""
}

// motionReply is LightNVR's answer to a trigger.
type motionReply struct {
	Success            bool   `json:"success"`
	Stream             string `json:"stream"`
	Action             string `json:"action"`
	DurationMS         int64  `json:"duration_ms"`
	RecordingTriggered bool   `json:"recording_triggered"`
	DetectionsStored   int    `json:"detections_stored"`
	TagsApplied        int    `json:"tags_applied"`
	Warning            string `json:"warning,omitempty"`
}

// check validates the request and returns how long to hold the trigger and
// the detections to publish: one whole-frame box per object, or one for the
// label.
func (req *motionRequest) check() (time.Duration, []event.Detection, error) {
	if req.Stream == "" {
		return 0, nil, errors.New("stream is required")
	}
	hold := motionMaxHold
	switch req.Action {
	case "start", "stop":
	case "pulse":
		hold = motionDefaultPulse
		if req.DurationMS != nil {
			if *req.DurationMS < 1 || *req.DurationMS > motionMaxHold.Milliseconds() {
				return 0, nil, errors.New("duration_ms must be between 1 and 600000")
			}
			hold = time.Duration(*req.DurationMS) * time.Millisecond
		}
	default:
		return 0, nil, errors.New(`action must be "start", "stop" or "pulse"`)
	}
	conf := 1.0
	if req.Confidence != nil {
		if conf = *req.Confidence; conf < 0 || conf > 1 {
			return 0, nil, errors.New("confidence must be between 0 and 1")
		}
	}
	label := req.Label
	if label == "" {
		label = "motion"
	}
	var dets []event.Detection
	for _, raw := range req.Objects[:min(len(req.Objects), motionMaxObjects)] {
		d := event.Detection{Label: label, Confidence: conf}
		if json.Unmarshal(raw, &d.Label) != nil {
			var o struct {
				Label      string   `json:"label"`
				Confidence *float64 `json:"confidence"`
			}
			if err := json.Unmarshal(raw, &o); err != nil || o.Label == "" {
				return 0, nil, errors.New(`objects must be labels or {"label", "confidence"}`)
			}
			d.Label = o.Label
			if o.Confidence != nil {
				d.Confidence = *o.Confidence
			}
		}
		dets = append(dets, d)
	}
	if len(dets) == 0 {
		dets = []event.Detection{{Label: label, Confidence: conf}}
	}
	for i := range dets {
		dets[i].Width, dets[i].Height, dets[i].TrackID = 1, 1, -1
	}
	return hold, dets, nil
}

// hold publishes e now and again every motionRepeat for d, replacing any
// trigger the stream holds already.
func (h *motionHandler) hold(e event.Event, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	held := &motionHold{cancel: cancel}
	h.mu.Lock()
	if prev := h.holds[e.Stream]; prev != nil {
		prev.cancel()
	}
	h.holds[e.Stream] = held
	h.mu.Unlock()
	h.bus.Publish(e)
	go func() {
		defer h.forget(e.Stream, held)
		t := time.NewTicker(motionRepeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					e.Time = time.Now() // the held trigger's last moment
					h.bus.Publish(e)
				}
				return
			case now := <-t.C:
				e.Time = now
				h.bus.Publish(e)
			}
		}
	}()
}

// motionHold is one held trigger.
type motionHold struct{ cancel context.CancelFunc }

// release ends the stream's held trigger, if any.
func (h *motionHandler) release(stream string) {
	h.mu.Lock()
	held := h.holds[stream]
	delete(h.holds, stream)
	h.mu.Unlock()
	if held != nil {
		held.cancel()
	}
}

// forget drops a finished hold unless a newer one replaced it.
func (h *motionHandler) forget(stream string, held *motionHold) {
	held.cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holds[stream] == held {
		delete(h.holds, stream)
	}
}
