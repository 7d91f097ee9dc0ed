package streams_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// BenchmarkDetectionToClip is the latency from an event on the bus to its
// clip on a real camera (10 fps, a keyframe every 2 s): to the clip's row
// (the file exists) and to its first fragment on disk (a moof written and
// synced). One op is one event and its whole clip (pre 2 s, post 1 s, 2 s
// grace), so run it with -benchtime=5x or so.
func BenchmarkDetectionToClip(b *testing.B) {
	cam := testkit.StartCamera(b)
	s := stream("door", cam.URL(), 5)
	s.Record, s.DetectionBasedRecording, s.PreDetectionBuffer, s.PostDetectionBuffer = false, true, 2, 1
	r := newRig(b, rigOpts{seed: []*db.Stream{s}})
	testkit.WaitFor(b, 30*time.Second, "3 s of video in the ring", func() bool {
		ps, ok := r.recording.Stats("door")
		return ok && ps.Frames >= 30
	})
	var toRow, toFragment time.Duration
	b.ResetTimer()
	for i := range b.N {
		at := time.Now()
		r.bus.Publish(event.Event{Stream: "door", Time: at, Source: event.SourceAPI})
		var recs []*db.Recording
		for len(recs) <= i {
			recs = recordings(b, r, "door")
			time.Sleep(time.Millisecond)
		}
		toRow += time.Since(at)
		for !hasFragment(recs[len(recs)-1].FilePath) { // the newest: start order
			time.Sleep(time.Millisecond)
		}
		toFragment += time.Since(at)
		testkit.WaitFor(b, 30*time.Second, "the clip closed", func() bool {
			ps, _ := r.recording.Stats("door")
			return ps.EventState == streams.EventIdle
		})
	}
	b.StopTimer()
	b.ReportMetric(float64(toRow.Microseconds())/1000/float64(b.N), "ms-to-row")
	b.ReportMetric(float64(toFragment.Microseconds())/1000/float64(b.N), "ms-to-fragment")
}

// hasFragment reports whether the file at path holds a movie fragment.
func hasFragment(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Contains(b, []byte("moof"))
}
