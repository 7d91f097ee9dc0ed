package streams_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/record"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// clipSpan is a finished recording's wall-clock start and end, from its
// part index (microseconds).
func clipSpan(t *testing.T, d *db.DB, rec *db.Recording) (time.Time, time.Time) {
	t.Helper()
	ix, err := db.GetRecordingIndex(context.Background(), d, rec.ID)
	if err != nil {
		t.Fatalf("index of %s: %v", rec.FilePath, err)
	}
	start := time.UnixMicro(ix.StartUS)
	return start, start.Add(time.Duration(ix.DurationUS) * time.Microsecond)
}

// waitClipClosed waits until stream name's event state is idle again with
// its newest recording complete, and returns its recordings.
func waitClipClosed(t *testing.T, r *rig, name string) []*db.Recording {
	t.Helper()
	var recs []*db.Recording
	testkit.WaitFor(t, 30*time.Second, "the clip closed", func() bool {
		ps, _ := r.recording.Stats(name)
		var err error
		recs, err = db.StreamRecordings(context.Background(), r.db, name)
		return err == nil && ps.EventState == streams.EventIdle && len(recs) > 0 && recs[0].IsComplete
	})
	return recs
}

// A detection-only stream writes nothing while nothing happens; two events
// 1.5 s apart give exactly one detection clip from the keyframe at least the
// pre-buffer before the first to post-buffer + grace after the last.
func TestDetectionClipAroundEvents(t *testing.T) {
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t) // 10 fps, a keyframe every 2 s
	s := stream("door", cam.URL(), 5)
	s.Record, s.DetectionBasedRecording = false, true
	s.PreDetectionBuffer, s.PostDetectionBuffer = 3, 2
	r := newRig(t, rigOpts{seed: []*db.Stream{s}})
	waitState(t, r.mgr, "door", 20*time.Second, streams.StateActive)
	testkit.WaitFor(t, 30*time.Second, "8 s of video through the pipeline", func() bool {
		ps, ok := r.recording.Stats("door")
		return ok && ps.Frames > 80
	})
	r.bus.Publish(event.Event{Stream: "other", Time: time.Now(), Source: event.SourceAPI})
	time.Sleep(500 * time.Millisecond)
	if recs, err := db.StreamRecordings(context.Background(), r.db, "door"); err != nil || len(recs) != 0 {
		t.Fatalf("without an event of its own the stream recorded %d files (%v)", len(recs), err)
	}
	if ps, _ := r.recording.Stats("door"); ps.Mode != streams.ModeDetection || ps.EventState != streams.EventIdle || ps.Recording {
		t.Fatalf("before any event: mode %s, event state %q, continuous recorder %v", ps.Mode, ps.EventState, ps.Recording)
	}

	first := time.Now()
	r.bus.Publish(event.Event{Stream: "door", Time: first, Source: event.SourceAPI})
	time.Sleep(1500 * time.Millisecond)
	last := time.Now()
	r.bus.Publish(event.Event{Stream: "door", Time: last, Source: event.SourceAPI})
	if ps, _ := r.recording.Stats("door"); ps.EventState != streams.EventRecording {
		t.Fatalf("right after an event: event state %q", ps.EventState)
	}
	recs := waitClipClosed(t, r, "door")
	if len(recs) != 1 {
		t.Fatalf("%d recordings, want one clip", len(recs))
	}
	rec := recs[0]
	if rec.TriggerType != record.TriggerDetection || !strings.HasPrefix(filepath.Base(rec.FilePath), "detection_") {
		t.Fatalf("clip %s has trigger_type %q", rec.FilePath, rec.TriggerType)
	}
	if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
	}
	start, end := clipSpan(t, r.db, rec)
	wantStart := first.Add(-3 * time.Second)
	wantEnd := last.Add(2*time.Second + 2*time.Second)
	t.Logf("clip starts %s before the first event (pre-buffer 3 s), ends %s after the last (post 2 s + grace 2 s)",
		first.Sub(start).Round(time.Millisecond), end.Sub(last).Round(time.Millisecond))
	// At most a GOP (2 s) earlier than the pre-buffer, never more than 1 s later.
	if start.After(wantStart.Add(time.Second)) || start.Before(wantStart.Add(-3*time.Second)) {
		t.Errorf("clip starts at %s, want within [-3 s, +1 s] of %s", start.Format(time.StampMilli), wantStart.Format(time.StampMilli))
	}
	if d := end.Sub(wantEnd); d > time.Second || d < -time.Second {
		t.Errorf("clip ends at %s, %s from %s", end.Format(time.StampMilli), d, wantEnd.Format(time.StampMilli))
	}
}

func TestModeOfFlags(t *testing.T) {
	for _, c := range []struct {
		record, detection bool
		want              streams.Mode
	}{
		{false, false, streams.ModeOff},
		{true, false, streams.ModeContinuous},
		{false, true, streams.ModeDetection},
		{true, true, streams.ModeAnnotation},
	} {
		s := db.NewStream("x", "rtsp://h/x")
		s.Record, s.DetectionBasedRecording = c.record, c.detection
		if got := streams.ModeOf(s); got != c.want {
			t.Errorf("record=%v detection=%v: mode %s, want %s", c.record, c.detection, got, c.want)
		}
	}
}

// Annotation mode (continuous recording with detection on) keeps writing
// continuous segments: detections only annotate them.
func TestAnnotationModeKeepsContinuousSegments(t *testing.T) {
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t)
	s := stream("porch", cam.URL(), 5)
	s.Record, s.DetectionBasedRecording, s.SegmentDuration = true, true, 2
	r := newRig(t, rigOpts{seed: []*db.Stream{s}})
	waitState(t, r.mgr, "porch", 20*time.Second, streams.StateActive)
	testkit.WaitFor(t, 30*time.Second, "two finished continuous segments", func() bool {
		ps, ok := r.recording.Stats("porch")
		return ok && ps.Segments >= 2
	})
	recs, err := db.StreamRecordings(context.Background(), r.db, "porch")
	if err != nil || len(recs) < 2 {
		t.Fatalf("recordings: %d %v", len(recs), err)
	}
	for _, rec := range recs {
		if rec.TriggerType != record.TriggerScheduled {
			t.Errorf("%s: trigger_type %q, want %q", rec.FilePath, rec.TriggerType, record.TriggerScheduled)
		}
		if !rec.IsComplete {
			continue
		}
		if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
			t.Errorf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
		}
	}
}
