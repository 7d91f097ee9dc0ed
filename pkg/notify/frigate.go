package notify

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/event"
)

// frigatePrefix is Frigate's default topic prefix, which Home Assistant's
// Frigate integration and existing automations listen on.
const frigatePrefix = "frigate"

// frigateObject is a tracked object of frigate/events. The detections here
// have no tracker, so one object is one label on one camera from its first
// detection until it has been quiet for the quiet time. Boxes are in
// fractions of the frame.
type frigateObject struct {
	id, camera, label     string
	frameTime, start, end float64 // end is 0 while the object is active
	score, topScore       float64
	box                   []float64
	zones, entered        []string
	positionChanges       int
	hasSnapshot           bool
}

// MarshalJSON writes Frigate's field names, with the fields this NVR has
// no notion of (sub labels, stationary objects, clips) at their neutral values.
func (o frigateObject) MarshalJSON() ([]byte, error) {
	var end any
	if o.end > 0 {
		end = o.end
	}
	w, h := o.box[2]-o.box[0], o.box[3]-o.box[1]
	ratio := 0.0
	if h > 0 {
		ratio = w / h
	}
	return json.Marshal(map[string]any{
		"id": o.id, "camera": o.camera, "label": o.label, "sub_label": nil,
		"frame_time": o.frameTime, "snapshot_time": o.frameTime, "start_time": o.start, "end_time": end,
		"score": o.score, "top_score": o.topScore, "false_positive": false,
		"box": o.box, "region": o.box, "area": w * h, "ratio": ratio,
		"current_zones": o.zones, "entered_zones": o.entered, "position_changes": o.positionChanges,
		"stationary": false, "motionless_count": 0, "active": o.end == 0,
		"has_snapshot": o.hasSnapshot, "has_clip": false, "attributes": map[string]any{}, "current_attributes": []string{},
	})
}

// frigateEvent is the payload of frigate/events.
type frigateEvent struct {
	Type   string        `json:"type"`
	Before frigateObject `json:"before"`
	After  frigateObject `json:"after"`
}

// frigate tracks the open objects per camera and label.
type frigate struct {
	mu   sync.Mutex
	objs map[[2]string]*frigateObject
	last map[[2]string]time.Time
}

func newFrigate() *frigate {
	return &frigate{objs: map[[2]string]*frigateObject{}, last: map[[2]string]time.Time{}}
}

type frigateSink func(topic string, v any)

// detected opens or updates one object per label of e and publishes the
// per-camera counts.
func (f *frigate) detected(e event.Event, now time.Time, out frigateSink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cam := sanitize(e.Stream)
	for _, lc := range labelCounts(e.Detections) {
		key := [2]string{cam, lc.label}
		best := bestOf(e.Detections, lc.label)
		obj := objectOf(cam, e, best)
		prev, open := f.objs[key]
		kind := "new"
		before := obj
		if open {
			kind, before = "update", *prev
			obj.id, obj.start, obj.topScore = prev.id, prev.start, max(prev.topScore, obj.score)
			obj.positionChanges = prev.positionChanges + 1
			obj.entered = union(prev.entered, obj.zones)
		}
		f.objs[key], f.last[key] = &obj, now
		out(frigatePrefix+"/events", frigateEvent{Type: kind, Before: before, After: obj})
	}
	f.publishCounts(cam, e.Detections, out)
}

// publishCounts sends frigate/<camera>/<label> for the labels seen now and
// frigate/<camera>/all.
func (f *frigate) publishCounts(cam string, ds []event.Detection, out frigateSink) {
	for _, lc := range labelCounts(ds) {
		out(frigatePrefix+"/"+cam+"/"+sanitize(lc.label), lc.n)
	}
	out(frigatePrefix+"/"+cam+"/all", len(ds))
}

// expire ends the objects quiet for d: an end event and a zero count.
func (f *frigate) expire(now time.Time, d time.Duration, out frigateSink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ended := map[string]bool{}
	for key, t := range f.last {
		if now.Sub(t) < d {
			continue
		}
		before := *f.objs[key]
		after := before
		after.end = unixSeconds(now)
		out(frigatePrefix+"/events", frigateEvent{Type: "end", Before: before, After: after})
		out(frigatePrefix+"/"+key[0]+"/"+sanitize(key[1]), 0)
		delete(f.objs, key)
		delete(f.last, key)
		ended[key[0]] = true
	}
	for cam := range ended {
		if !f.cameraActive(cam) {
			out(frigatePrefix+"/"+cam+"/all", 0)
		}
	}
}

func (f *frigate) empty() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.last) == 0
}

func (f *frigate) cameraActive(cam string) bool {
	for key := range f.objs {
		if key[0] == cam {
			return true
		}
	}
	return false
}

func bestOf(ds []event.Detection, label string) event.Detection {
	var best event.Detection
	for _, d := range ds {
		if d.Label == label && d.Confidence >= best.Confidence {
			best = d
		}
	}
	return best
}

func objectOf(cam string, e event.Event, d event.Detection) frigateObject {
	t := unixSeconds(e.Time)
	zones := []string{}
	if d.ZoneID != "" {
		zones = append(zones, d.ZoneID)
	}
	return frigateObject{id: newEventID(e.Time), camera: cam, label: d.Label, frameTime: t, start: t,
		score: d.Confidence, topScore: d.Confidence, box: []float64{d.X, d.Y, d.X + d.Width, d.Y + d.Height},
		zones: zones, entered: slices.Clone(zones), hasSnapshot: e.Snapshot != ""}
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// newEventID is shaped as Frigate's: "<start time>-<6 random letters>".
func newEventID(t time.Time) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return fmt.Sprintf("%.6f-%s", unixSeconds(t), b)
}

// pushFrigate queues a Frigate message: counts as plain integers, events as
// JSON, never retained (as Frigate).
func (m *MQTT) pushFrigate(cfg config.MQTTConfig, topic string, v any) {
	if n, ok := v.(int); ok {
		m.push(cfg, topic, []byte(strconv.Itoa(n)), false)
		return
	}
	m.pushJSON(cfg, topic, v, false)
}
