package notify

import (
	"crypto/rand"
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
	ID              string    `json:"id"`
	Camera          string    `json:"camera"`
	FrameTime       float64   `json:"frame_time"`
	SnapshotTime    float64   `json:"snapshot_time"`
	Label           string    `json:"label"`
	SubLabel        *string   `json:"sub_label"`
	TopScore        float64   `json:"top_score"`
	FalsePositive   bool      `json:"false_positive"`
	StartTime       float64   `json:"start_time"`
	EndTime         *float64  `json:"end_time"`
	Score           float64   `json:"score"`
	Box             []float64 `json:"box"`
	Area            float64   `json:"area"`
	Ratio           float64   `json:"ratio"`
	Region          []float64 `json:"region"`
	Stationary      bool      `json:"stationary"`
	MotionlessCount int       `json:"motionless_count"`
	PositionChanges int       `json:"position_changes"`
	CurrentZones    []string  `json:"current_zones"`
	EnteredZones    []string  `json:"entered_zones"`
	HasClip         bool      `json:"has_clip"`
	HasSnapshot     bool      `json:"has_snapshot"`
	Attributes      struct{}  `json:"attributes"`
	CurrentAttrs    []string  `json:"current_attributes"`
	Active          bool      `json:"active"`
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
			obj.ID, obj.StartTime, obj.TopScore = prev.ID, prev.StartTime, max(prev.TopScore, obj.Score)
			obj.PositionChanges = prev.PositionChanges + 1
			obj.EnteredZones = union(prev.EnteredZones, obj.CurrentZones)
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
		end := unixSeconds(now)
		after.EndTime, after.Active = &end, false
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
	box := []float64{d.X, d.Y, d.X + d.Width, d.Y + d.Height}
	ratio := 0.0
	if d.Height > 0 {
		ratio = d.Width / d.Height
	}
	zones := []string{}
	if d.ZoneID != "" {
		zones = append(zones, d.ZoneID)
	}
	return frigateObject{
		ID: newEventID(e.Time), Camera: cam, FrameTime: t, SnapshotTime: t, Label: d.Label,
		TopScore: d.Confidence, StartTime: t, Score: d.Confidence, Box: box, Area: d.Width * d.Height,
		Ratio: ratio, Region: box, CurrentZones: zones, EnteredZones: slices.Clone(zones),
		HasSnapshot: e.Snapshot != "", CurrentAttrs: []string{}, Active: true,
	}
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
