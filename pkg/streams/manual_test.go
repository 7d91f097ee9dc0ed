package streams_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/record"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// waitManualFile waits until stream name writes a manual recording on disk.
func waitManualFile(t *testing.T, r *rig, name string) streams.RecordingState {
	t.Helper()
	var st streams.RecordingState
	testkit.WaitFor(t, 20*time.Second, "the manual recording on disk", func() bool {
		st = r.recording.RecordingState(name)
		return st.State == streams.RecRecording
	})
	if st.CaptureMethod != record.TriggerManual || st.RecordingID == 0 {
		t.Fatalf("recording state %+v, want a manual recording with its row", st)
	}
	return st
}

// waitManualClosed waits for the one recording of name to be complete.
func waitManualClosed(t *testing.T, r *rig, name string) *db.Recording {
	t.Helper()
	var recs []*db.Recording
	testkit.WaitFor(t, 20*time.Second, "the manual recording complete", func() bool {
		var err error
		recs, err = db.StreamRecordings(context.Background(), r.db, name)
		return err == nil && len(recs) > 0 && recs[0].IsComplete
	})
	if len(recs) != 1 {
		t.Fatalf("%d recordings, want the one manual recording", len(recs))
	}
	rec := recs[0]
	if rec.TriggerType != record.TriggerManual {
		t.Fatalf("recording %s: trigger_type %q, want manual", rec.FilePath, rec.TriggerType)
	}
	if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
	}
	return rec
}

// A stream that records nothing by itself records between a manual start
// and stop: one playable file with trigger_type 'manual'; the state goes
// idle → recording → idle.
func TestManualRecordingStartStop(t *testing.T) {
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t)
	s := stream("desk", cam.URL(), 5)
	s.Record = false
	r := newRig(t, rigOpts{seed: []*db.Stream{s}})
	waitState(t, r.mgr, "desk", 20*time.Second, streams.StateActive)
	if st := r.recording.RecordingState("desk"); st.State != streams.RecIdle || st.Continuous {
		t.Fatalf("before the start: %+v, want idle", st)
	}
	if err := r.recording.StartManual("desk"); err != nil {
		t.Fatal(err)
	}
	st := waitManualFile(t, r, "desk")
	testkit.WaitFor(t, 20*time.Second, "3 s recorded", func() bool {
		ix, err := db.GetRecordingIndex(context.Background(), r.db, st.RecordingID)
		return err == nil && ix.DurationUS > 3e6
	})
	r.recording.StopManual("desk")
	if st := r.recording.RecordingState("desk"); st.State != streams.RecIdle {
		t.Fatalf("right after the stop: %+v, want idle", st)
	}
	waitManualClosed(t, r, "desk")
}

// A manual recording nobody stops ends at the maximum duration. The
// maximum is three of the camera's 2 s GOPs: the file starts at the first
// keyframe, so a shorter one could end before a loaded machine shows it.
func TestManualRecordingEndsAtItsMaximum(t *testing.T) {
	const limit = 6 * time.Second
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t)
	s := stream("hall", cam.URL(), 5)
	s.Record = false
	r := newRig(t, rigOpts{seed: []*db.Stream{s}, manualMax: limit})
	waitState(t, r.mgr, "hall", 20*time.Second, streams.StateActive)
	if err := r.recording.StartManual("hall"); err != nil {
		t.Fatal(err)
	}
	waitManualFile(t, r, "hall")
	rec := waitManualClosed(t, r, "hall")
	if st := r.recording.RecordingState("hall"); st.State != streams.RecIdle {
		t.Fatalf("after the maximum: %+v, want idle", st)
	}
	// It starts at the first keyframe after the start and ends at the maximum.
	start, end := clipSpan(t, r.db, rec)
	if d := end.Sub(start); d > limit+500*time.Millisecond || d < limit/2 {
		t.Fatalf("the manual recording lasted %s; want its %s maximum less the wait for a keyframe", d, limit)
	}
}

// A continuously recording stream refuses manual control; a stream that
// does not run refuses it too.
func TestManualRecordingRefused(t *testing.T) {
	cam := testkit.StartCamera(t)
	s := stream("yard", cam.URL(), 5)
	s.Record = true
	r := newRig(t, rigOpts{seed: []*db.Stream{s}})
	waitState(t, r.mgr, "yard", 20*time.Second, streams.StateActive)
	if err := r.recording.StartManual("yard"); !errors.Is(err, streams.ErrRecordsContinuously) {
		t.Fatalf("manual start on a continuous stream: %v", err)
	}
	if st := r.recording.RecordingState("yard"); !st.Continuous {
		t.Fatalf("continuous stream state %+v", st)
	}
	if err := r.recording.StartManual("nothing"); !errors.Is(err, streams.ErrNotRecordingStream) {
		t.Fatalf("manual start on an unknown stream: %v", err)
	}
}
