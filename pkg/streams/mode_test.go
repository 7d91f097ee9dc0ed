package streams_test

import (
	"context"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/record"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

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
