package streams_test

import (
	"context"
	"encoding/json"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/event"
	"lightnvr/pkg/record"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// A detection-only stream with LightNVR's built-in "motion" model, on a
// camera whose picture is still and then has a box crossing it: the motion
// detector in the pipeline opens exactly one detection clip around the
// motion, and the still start writes nothing.
func TestMotionModelRecordsOneClip(t *testing.T) {
	testkit.Need(t, "ffprobe")
	cam := testkit.StartMotionCamera(t, testkit.MotionScene{From: 14, To: 19})
	s := stream("drive", cam.URL(), 5)
	s.Record, s.DetectionBasedRecording, s.DetectionModel = false, true, "motion"
	s.PreDetectionBuffer, s.PostDetectionBuffer, s.MotionMinDuration = 3, 2, 1
	sub := newRigBus(t, s)
	r, events := sub.r, sub.events

	var first, last time.Time
	deadline := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case e := <-events.C():
			if e.Stream != "drive" || e.Source != event.SourceMotion {
				t.Fatalf("event %+v: want motion on drive", e)
			}
			if first.IsZero() {
				first = e.Time
				if recs, _ := db.StreamRecordings(context.Background(), r.db, "drive"); len(recs) > 1 {
					t.Fatalf("%d recordings before the first motion", len(recs))
				}
			}
			last = e.Time
		case <-time.After(4 * time.Second):
			done = !first.IsZero() // motion over: no event for 4 s
		case <-deadline:
			t.Fatal("no motion within 60 s of a camera whose box moves from 14 s to 19 s")
		}
	}
	recs := waitClipClosed(t, r, "drive")
	if len(recs) != 1 || recs[0].TriggerType != record.TriggerDetection {
		t.Fatalf("%d recordings (first %+v), want one detection clip", len(recs), recs[0])
	}
	if pr := testkit.FFprobe(t, recs[0].FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", recs[0].FilePath, pr.Duration(), pr.Errors)
	}
	start, end := clipSpan(t, r.db, recs[0])
	t.Logf("motion %s long; clip starts %s before it (pre-buffer 3 s), ends %s after its last event (post 2 s + grace 2 s)",
		last.Sub(first).Round(time.Millisecond), first.Sub(start).Round(time.Millisecond), end.Sub(last).Round(time.Millisecond))
	if d := first.Add(-3 * time.Second).Sub(start); d < -time.Second || d > 2*time.Second+time.Second {
		t.Errorf("clip starts %s before the motion, want the pre-buffer (3 s) to a GOP (2 s) more", first.Sub(start))
	}
	if d := end.Sub(last.Add(4 * time.Second)); d > time.Second || d < -time.Second {
		t.Errorf("clip ends %s after the last motion event, want 4 s ± 1 s", end.Sub(last))
	}
}

// rigBus is a rig running one stream, with a subscription to its bus.
type rigBus struct {
	r      *rig
	events *event.Subscription
}

func newRigBus(t *testing.T, s *db.Stream) rigBus {
	t.Helper()
	r := newRig(t, rigOpts{seed: []*db.Stream{s}})
	events := r.bus.Subscribe(64)
	t.Cleanup(events.Close)
	waitState(t, r.mgr, s.Name, 20*time.Second, streams.StateActive)
	return rigBus{r, events}
}

// An annotation-mode stream whose detection_model is a detector's URL: the
// pipeline posts go2rtc's frames to it, its boxes become events on the bus,
// the detections store links them to the continuous segment being written,
// and the detector's health shows in the pipeline's figures. A detector that
// stops answering is shown failing while recording goes on.
func TestExternalDetectorAnnotatesContinuousRecording(t *testing.T) {
	var hang atomic.Bool
	var frames atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := jpeg.Decode(f); err != nil {
			http.Error(w, "not a JPEG: "+err.Error(), http.StatusBadRequest)
			return
		}
		frames.Add(1)
		if hang.Load() {
			<-r.Context().Done()
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"detections": []map[string]any{{
			"label": "person", "confidence": 0.9,
			"bounding_box": map[string]float64{"x_min": 0.1, "y_min": 0.2, "x_max": 0.4, "y_max": 0.8},
		}}})
	}))
	t.Cleanup(srv.Close)

	cam := testkit.StartCamera(t)
	s := stream("porch", cam.URL(), 5)
	s.Record, s.DetectionBasedRecording, s.SegmentDuration = true, true, 60
	s.DetectionModel, s.DetectionInterval, s.DetectionThreshold = srv.URL, 1, 0.5
	rb := newRigBus(t, s)
	r := rb.r
	ctx, cancel := context.WithCancel(context.Background())
	store := detect.NewStore(r.db, r.bus, quietLogger())
	stopped := make(chan struct{})
	go func() { store.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })

	select {
	case e := <-rb.events.C():
		if e.Stream != "porch" || e.Source != event.SourceDetector || len(e.Detections) != 1 || e.Detections[0].Label != "person" {
			t.Fatalf("event %+v: want one person from the detector on porch", e)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no detector event within 30 s (%d frames posted)", frames.Load())
	}
	var dets []db.Detection
	testkit.WaitFor(t, 10*time.Second, "a stored detection linked to the continuous segment", func() bool {
		var err error
		dets, err = db.DetectionsBetween(context.Background(), r.db, "porch", 0, time.Now().Unix()+1, 10)
		return err == nil && len(dets) > 0 && dets[0].RecordingID != 0
	})
	ps, _ := r.recording.Stats("porch")
	if ps.RecordingID != dets[0].RecordingID || ps.Mode != streams.ModeAnnotation {
		t.Fatalf("detection linked to recording %d, the open segment is %d (mode %s)", dets[0].RecordingID, ps.RecordingID, ps.Mode)
	}
	if ps.Detector == nil || ps.Detector.State != detect.ExternalOK {
		t.Fatalf("detector health %+v, want ok", ps.Detector)
	}

	hang.Store(true)
	testkit.WaitFor(t, 60*time.Second, "the hung detector shown failing", func() bool {
		ps, _ := r.recording.Stats("porch")
		return ps.Detector != nil && ps.Detector.State == detect.ExternalFailing
	})
	before, _ := r.recording.Stats("porch")
	testkit.WaitFor(t, 20*time.Second, "recording going on past a hung detector", func() bool {
		ps, _ := r.recording.Stats("porch")
		return ps.RecorderState == "recording" && ps.Frames > before.Frames+20
	})
}

// Snapshot motion ("motion-snapshot") on a camera whose picture is still,
// then has a box crossing it: go2rtc's pictures of it differ only while
// the box moves, so exactly one detection clip is written around the
// motion, with the box's place on its events. A still camera next to it,
// watched the same way, publishes nothing and writes nothing.
func TestSnapshotMotionRecordsOneClip(t *testing.T) {
	testkit.Need(t, "ffprobe")
	moving := testkit.StartMotionCamera(t, testkit.MotionScene{From: 14, To: 19})
	still := testkit.StartMotionCamera(t, testkit.MotionScene{})
	var seed []*db.Stream
	for name, url := range map[string]string{"drive": moving.URL(), "porch": still.URL()} {
		s := stream(name, url, 5)
		s.Record, s.DetectionBasedRecording, s.DetectionModel = false, true, detect.SnapshotMotionModel
		s.PreDetectionBuffer, s.PostDetectionBuffer, s.MotionMinDuration = 3, 2, 1
		seed = append(seed, s)
	}
	r := newRig(t, rigOpts{seed: seed})
	events := r.bus.Subscribe(64)
	defer events.Close()

	var first, last time.Time
	deadline := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case e := <-events.C():
			if e.Stream != "drive" || e.Source != event.SourceMotion || len(e.Detections) != 1 {
				t.Fatalf("event %+v: want snapshot motion on drive", e)
			}
			// The box runs along y 150..210 of 360: the changed cells lie there.
			if d := e.Detections[0]; d.Y > 0.45 || d.Y+d.Height < 0.55 || d.Width >= 1 {
				t.Errorf("motion box %+v: want it around the crossing box, not the whole picture", d)
			}
			if first.IsZero() {
				first = e.Time
			}
			last = e.Time
		case <-time.After(6 * time.Second):
			done = !first.IsZero() // motion over: no event for 6 s (three keyframes)
		case <-deadline:
			t.Fatal("no snapshot motion within 60 s of a camera whose box moves from 14 s to 19 s")
		}
	}
	recs := waitClipClosed(t, r, "drive")
	if len(recs) != 1 || recs[0].TriggerType != record.TriggerDetection {
		t.Fatalf("%d recordings, want one detection clip", len(recs))
	}
	if pr := testkit.FFprobe(t, recs[0].FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", recs[0].FilePath, pr.Duration(), pr.Errors)
	}
	start, end := clipSpan(t, r.db, recs[0])
	t.Logf("motion events over %s; clip from %s before the first to %s after the last",
		last.Sub(first).Round(time.Millisecond), first.Sub(start).Round(time.Millisecond), end.Sub(last).Round(time.Millisecond))
	if ps, ok := r.recording.Stats("porch"); !ok || ps.Frames < 100 {
		t.Fatalf("the still camera's pipeline did not run (%+v)", ps)
	}
	if recs := recordings(t, r, "porch"); len(recs) != 0 {
		t.Fatalf("the still camera wrote %d recordings", len(recs))
	}
}

// A still camera (with sensor noise) watched for two minutes by
// detection-only streams, one per motion model: no motion event, no clip,
// while the pipelines run all along.
func TestStillCameraTwoMinutesNoClip(t *testing.T) {
	if testing.Short() {
		t.Skip("two minutes of camera")
	}
	cam := testkit.StartMotionCamera(t, testkit.MotionScene{Noise: 6})
	var seed []*db.Stream
	for name, model := range map[string]string{"coded": "motion", "snap": detect.SnapshotMotionModel} {
		s := stream(name, cam.URL(), 5)
		s.Record, s.DetectionBasedRecording, s.DetectionModel = false, true, model
		s.PreDetectionBuffer, s.PostDetectionBuffer, s.MotionMinDuration = 3, 2, 1
		seed = append(seed, s)
	}
	r := newRig(t, rigOpts{seed: seed})
	events := r.bus.Subscribe(64)
	defer events.Close()
	select {
	case e := <-events.C():
		t.Fatalf("a still camera triggered %s motion on %s at %s", e.Source, e.Stream, e.Time)
	case <-time.After(2 * time.Minute):
	}
	for _, name := range []string{"coded", "snap"} {
		ps, ok := r.recording.Stats(name)
		if !ok || ps.Frames < 2*60*testkit.MotionFPS*9/10 {
			t.Fatalf("%s: %d frames in two minutes, want about %d: the detector was not fed", name, ps.Frames, 2*60*testkit.MotionFPS)
		}
		if recs := recordings(t, r, name); len(recs) != 0 || ps.Clips != 0 {
			t.Fatalf("%s: %d recordings, %d clips from a still camera", name, len(recs), ps.Clips)
		}
	}
}
