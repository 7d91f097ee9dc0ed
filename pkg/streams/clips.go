package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"lightnvr/pkg/event"
	"lightnvr/pkg/media"
	"lightnvr/pkg/record"
	"lightnvr/pkg/ringbuf"
)

// eventGrace is how long after the last event a clip still counts as
// recording before its post-event buffer begins (LightNVR's
// detection_grace_period).
const eventGrace = 2 * time.Second

// Event states of a detection-mode stream: idle → recording → post-buffer →
// idle. An event during the post-buffer returns to recording.
const (
	EventIdle       = "idle"
	EventRecording  = "recording"
	EventPostBuffer = "post-buffer"
)

// eventClips records the clips of one detection-mode stream: every unit goes
// into the pre-event ring; an event on the bus opens a clip that starts at the
// ring's keyframe at least the pre-buffer before the event, follows the ring
// live and ends post_detection_buffer (plus the grace) after the last event.
type eventClips struct {
	ring    *ringbuf.Ring
	sources map[string]bool // streams whose events drive this one
	pre     time.Duration
	post    time.Duration
	newRec  func() (*record.Recorder, error)
	log     *slog.Logger
	// gate is the detection recording schedule: events outside it open no
	// clip and a clip ends at its boundary. Nil records at every hour.
	gate *scheduleGate

	mu    sync.Mutex
	clip  *clip
	last  time.Time // the last event
	wg    sync.WaitGroup
	clips atomic.Uint64
}

// clip is one open event clip; its end moves with every event.
type clip struct {
	rec    *record.Recorder
	mu     sync.Mutex
	end    time.Time
	closed bool
}

// extend moves the clip's end to end; false when the clip has closed.
func (c *clip) extend(end time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.end = later(c.end, end)
	return true
}

// admit reports whether a unit at wall belongs in the clip; the first one
// past the end closes it.
func (c *clip) admit(wall time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && wall.Before(c.end) {
		return true
	}
	c.closed = true
	return false
}

func (c *clip) until() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// newEventClips opens the stream's ring under dir with the caps of limits.
func newEventClips(p *recordingPipeline, cfg StreamConfig, dir string, limits ringbuf.Config, newRec func() (*record.Recorder, error)) (*eventClips, error) {
	s := &cfg.Stream
	pre := time.Duration(s.PreDetectionBuffer) * time.Second
	limits.Path, limits.Window = filepath.Join(dir, record.SanitizeStream(s.Name)+".ring"), pre
	ring, err := ringbuf.Open(limits)
	if err != nil {
		return nil, fmt.Errorf("pre-event buffer: %w", err)
	}
	ec := &eventClips{ring: ring, sources: map[string]bool{s.Name: true}, pre: pre,
		post: time.Duration(s.PostDetectionBuffer) * time.Second, newRec: newRec, log: p.owner.log.With("stream", s.Name),
		gate: newScheduleGate(s.DetectionRecordOnSchedule, s.DetectionRecordingSchedule, p.owner.opts.Location)}
	if s.MotionTriggerSource != "" {
		ec.sources[s.MotionTriggerSource] = true
	}
	return ec, nil
}

// each calls f with every value of ch until ctx ends or ch closes.
func each[T any](ctx context.Context, ch <-chan T, f func(T)) {
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			f(v)
		}
	}
}

// fill copies every unit of sub into the ring until ctx ends or sub closes.
func (ec *eventClips) fill(ctx context.Context, sub *media.Subscription) {
	each(ctx, sub.C(), func(u *media.Unit) {
		ec.ring.Write(u)
		u.Release()
	})
}

// run handles the stream's events until ctx ends, then waits for the open
// clip to finish and closes the ring.
func (ec *eventClips) run(ctx context.Context, events *event.Subscription) {
	defer func() {
		events.Close()
		ec.wg.Wait()
		if err := ec.ring.Close(); err != nil {
			ec.log.Warn("closing the pre-event buffer", "err", err)
		}
	}()
	each(ctx, events.C(), func(e event.Event) {
		if ec.sources[e.Stream] {
			ec.onEvent(ctx, e)
		}
	})
}

func (ec *eventClips) onEvent(ctx context.Context, e event.Event) {
	at := e.Time
	if at.IsZero() {
		at = time.Now()
	}
	if !ec.gate.allows(at) {
		ec.log.Debug("event outside the detection recording schedule: no clip", "source", e.Source)
		return
	}
	end := ec.gate.clamp(at, at.Add(eventGrace+ec.post))
	ec.mu.Lock()
	defer ec.mu.Unlock()
	ec.last = later(ec.last, at)
	if ec.clip != nil && ec.clip.extend(end) {
		return
	}
	rd, err := ec.ring.NewReader(ec.pre)
	if err != nil {
		ec.log.Warn("event without a clip: nothing buffered yet", "source", e.Source, "err", err)
		return
	}
	if st := ec.ring.Stats(); st.Starved {
		ec.log.Warn("pre-event buffers reach their total cap: this clip's pre-event buffer may be short",
			"ring_bytes", st.Limit, "buffered", st.Span.Round(time.Millisecond))
	}
	rec, err := ec.newRec()
	if err != nil {
		rd.Close()
		ec.log.Error("event without a clip", "err", err)
		return
	}
	c := &clip{rec: rec, end: end}
	ec.clip = c
	ec.clips.Add(1)
	ec.log.Info("event clip started", "source", e.Source)
	ec.wg.Add(1)
	go func() {
		defer ec.wg.Done()
		ec.write(ctx, c, rd, rec)
	}()
}

// write copies units from the ring into the clip's recorder until the clip
// ends (its first unit past the end, or the end passing with no unit) or
// ctx does.
func (ec *eventClips) write(ctx context.Context, c *clip, rd *ringbuf.Reader, rec *record.Recorder) {
	defer func() {
		if rd != nil {
			rd.Close()
		}
		if err := rec.Close(); err != nil {
			ec.log.Error("event clip", "err", err)
		}
		ec.log.Info("event clip closed")
	}()
	for {
		// A camera gone silent must not hold the clip open.
		nctx, cancel := context.WithDeadline(ctx, c.until().Add(time.Second))
		u, err := rd.Next(nctx)
		cancel()
		switch {
		case errors.Is(err, ringbuf.ErrOverrun):
			// The disk fell a whole ring behind: go on from the newest keyframe.
			ec.log.Warn("event clip fell behind its buffer, units lost")
			rd.Close()
			if rd, err = ec.ring.NewReader(0); err != nil {
				rd = nil
				return
			}
			continue
		case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
			if c.admit(time.Now()) {
				continue
			}
			return
		case err != nil:
			return
		}
		if !c.admit(u.Wall) {
			return
		}
		rec.Write(u)
	}
}

// recordingID is the row of the open clip's file, 0 while none is on disk.
func (ec *eventClips) recordingID() int64 {
	ec.mu.Lock()
	c := ec.clip
	ec.mu.Unlock()
	if c == nil || !c.extend(time.Time{}) {
		return 0
	}
	return c.rec.Status().RecordingID
}

// state is the stream's event state.
func (ec *eventClips) state() string {
	ec.mu.Lock()
	c, last := ec.clip, ec.last
	ec.mu.Unlock()
	if c == nil || !c.extend(time.Time{}) {
		return EventIdle
	}
	if time.Since(last) < eventGrace {
		return EventRecording
	}
	return EventPostBuffer
}
