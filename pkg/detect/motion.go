package detect

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/media"
)

// DefaultSensitivity is the sensitivity of a stream that sets none
// (LightNVR's motion sensitivity 0.5).
const DefaultSensitivity = 50

// How motion episodes are cut and reported.
const (
	// repeatEvery is the shortest time between two events of one episode:
	// enough for a recorder to keep extending a clip, few enough for the
	// detections table.
	repeatEvery = time.Second
	// hold is how long frames may read still inside one episode: an object
	// that pauses for a moment is still the same motion.
	hold = 400 * time.Millisecond
	// levelShift is how long a raised frame size may last before it is
	// taken for a new normal (the camera's bitrate, scene or day/night mode
	// changed), not for motion.
	levelShift = 2 * time.Minute
)

// MotionConfig configures motion detection on one stream.
type MotionConfig struct {
	// Stream is the stream name put on every event.
	Stream string
	// Sensitivity, 0–100, sets how far above its usual size (in deviations
	// of the stream's own baseline) a frame must be to count as motion:
	// 100 reacts to the smallest change, 0 only to a large one.
	Sensitivity int
	// MinDuration is how long motion must last before it is published
	// (the stream's motion_min_duration); shorter motion publishes nothing.
	MinDuration time.Duration
	// DB holds the stream's zones and object filter, applied to the
	// whole-frame "motion" detection before it is published; nil publishes
	// it as it is.
	DB *db.DB
}

// motionConfigOf is the motion configuration a stream's fields ask for.
func motionConfigOf(s *db.Stream) MotionConfig {
	return MotionConfig{Stream: s.Name, Sensitivity: s.MotionSensitivity,
		MinDuration: time.Duration(s.MotionMinDuration) * time.Second}
}

// MotionFor returns stream s's motion configuration; ok is false unless its
// detection_model is LightNVR's built-in "motion". Whether the stream
// detects at all (its recording mode) is the caller's decision.
func MotionFor(s *db.Stream) (cfg MotionConfig, ok bool) {
	if !strings.EqualFold(strings.TrimSpace(s.DetectionModel), "motion") {
		return cfg, false
	}
	return motionConfigOf(s), true
}

// Motion detects motion from the coded size of a stream's inter frames:
// an encoder spends bytes on what changed, so a P-frame much larger than
// the stream's recent P-frames means something moved. It never decodes a
// picture, costs a few arithmetic operations per frame and allocates
// nothing per frame. A Motion belongs to one goroutine.
type Motion struct {
	cfg       MotionConfig
	threshold float64 // deviations above the baseline that count as motion

	desc *media.Desc // the description the baseline was learnt on
	base baseline
	ep   episode
}

// NewMotion returns a detector for one stream.
func NewMotion(cfg MotionConfig) *Motion {
	s := min(max(cfg.Sensitivity, 0), 100)
	return &Motion{cfg: cfg, threshold: 1 + float64(100-s)/10}
}

// Run reads sub until ctx ends or the subscription closes, publishing on
// bus while motion lasts. It returns ctx.Err() when cancelled and nil when
// the subscription was closed.
func (m *Motion) Run(ctx context.Context, sub *media.Subscription, bus *event.Bus) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u, ok := <-sub.C():
			if !ok {
				return nil
			}
			conf, hot := m.observe(u)
			u.Release() // only the sizes were needed
			if hot {
				m.publish(ctx, bus, m.event(u, conf))
			}
		}
	}
}

// observe feeds one unit and reports whether an event is due, with its
// confidence.
func (m *Motion) observe(u *media.Unit) (float64, bool) {
	if !u.IsVideo() {
		return 0, false
	}
	if u.Desc != m.desc {
		// A restarted camera or new parameters: the old sizes mean nothing.
		m.desc = u.Desc
		m.base = baseline{}
		m.ep = episode{}
	}
	now := u.Time(u.DTS)
	z, ok := m.base.add(u, now, m.ep.on)
	if !ok {
		return 0, false
	}
	due := m.ep.step(now, z >= m.threshold, m.cfg.MinDuration)
	if m.ep.on && now-m.ep.onset > levelShift {
		m.base.rebase()
		m.ep = episode{}
		return 0, false
	}
	return min(1, z/(2*m.threshold)), due
}

// publish puts e on the bus with the detections the stream's rules keep;
// none kept (or rules that cannot be read) publishes nothing.
func (m *Motion) publish(ctx context.Context, bus *event.Bus, e event.Event) {
	kept, err := keepByRules(ctx, m.cfg.DB, m.cfg.Stream, e.Detections)
	if err != nil && ctx.Err() == nil {
		slog.Warn("motion event dropped", "stream", m.cfg.Stream, "err", err)
	}
	if len(kept) == 0 {
		return
	}
	e.Detections = kept
	bus.Publish(e)
}

// event is what one due frame publishes: motion over the whole picture.
func (m *Motion) event(u *media.Unit, conf float64) event.Event {
	return event.Event{Stream: m.cfg.Stream, Time: u.Wall, Source: event.SourceMotion,
		Detections: []event.Detection{{Label: "motion", Confidence: conf, Width: 1, Height: 1, TrackID: -1}}}
}

// episode follows one stretch of motion.
type episode struct {
	on        bool          // inside an episode (frames hot, or still for less than hold)
	onset     time.Duration // first hot frame
	last      time.Duration // latest hot frame
	published bool
	lastPub   time.Duration
}

// step takes one scored frame and reports whether an event is due.
func (e *episode) step(now time.Duration, hot bool, minDur time.Duration) bool {
	if !hot {
		if e.on && now-e.last > hold {
			*e = episode{}
		}
		return false
	}
	if !e.on {
		*e = episode{on: true, onset: now}
	}
	e.last = now
	if now-e.onset < minDur || (e.published && now-e.lastPub < repeatEvery) {
		return false
	}
	e.published, e.lastPub = true, now
	return true
}
