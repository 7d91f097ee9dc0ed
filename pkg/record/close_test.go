package record

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/testkit"
)

// closeFeed is 10 s of 1080p25 (a keyframe every 2 s) as units stamped
// from now, and a recorder cutting 2 s segments from them.
func closeFeed(t *testing.T) ([]media.Unit, *Recorder, *db.DB, string) {
	t.Helper()
	testkit.Need(t, "ffprobe")
	units := stampedUnits(t)
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")
	rec, err := New(Config{Stream: "cam", StorageDir: storage, DB: d, SegmentDuration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close() }) // a test that stops early still ends the closer
	return units, rec, d, storage
}

// stampedUnits is 10 s of 1080p25 (a keyframe every 2 s) as units
// numbered and stamped as ingest would, the first a minute ago.
func stampedUnits(t *testing.T) []media.Unit {
	units, _ := benchUnits(t)
	start := time.Now().Add(-time.Minute)
	for i := range units {
		units[i].Seq = uint64(i + 1)
		units[i].Wall = start.Add(units[i].Time(units[i].DTS))
	}
	return units
}

func setCloseHook(t *testing.T, hook func(*closing)) {
	testHookClose = hook
	t.Cleanup(func() { testHookClose = nil })
}

// TestSegmentCloseDoesNotHoldTheRecorder: while the disk takes its time to
// complete one segment, the next one is written, and nothing is dropped;
// both end up complete and playable.
func TestSegmentCloseDoesNotHoldTheRecorder(t *testing.T) {
	units, rec, d, storage := closeFeed(t)
	held, release := make(chan string, 1), make(chan struct{})
	first := true
	setCloseHook(t, func(c *closing) {
		if first { // closes run one at a time, so this needs no lock
			first = false
			held <- c.path
			<-release
		}
	})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	// Up to the second cut (the keyframe at 4 s), which would wait for
	// the first close: at most one is in flight.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := range 100 {
			rec.Write(&units[i])
		}
	}()
	var path1 string
	select {
	case path1 = <-held:
	case <-time.After(20 * time.Second):
		t.Fatal("the first segment was never closed")
	}
	select {
	case <-wrote:
	case <-time.After(20 * time.Second):
		t.Fatal("Write waited for the previous segment's close")
	}

	st := rec.Status()
	if st.Segments != 0 || st.State != StateRecording || st.Path == "" || st.Path == path1 || st.Dropped != 0 {
		t.Fatalf("status while the first close is held: %+v, want the second segment recording, none complete, none dropped", st)
	}
	if fi, err := os.Stat(st.Path); err != nil || fi.Size() < 100_000 {
		t.Fatalf("second segment while the first close is held: %v, %v; want its parts on disk", fi, err)
	}
	recs, err := db.StreamRecordings(context.Background(), d, "cam")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.IsComplete {
			t.Errorf("recording %s complete before its close ran", r.FilePath)
		}
	}

	close(release)
	released = true
	for i := 100; i < len(units); i++ {
		rec.Write(&units[i])
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if st := rec.Status(); st.Segments != 5 || st.Dropped != 0 {
		t.Errorf("after close: %d segments, %d dropped; want 5, 0", st.Segments, st.Dropped)
	}
	segs := checkRecordings(t, d, storage, "cam")
	if len(segs) != 5 {
		t.Fatalf("%d recordings, want 5", len(segs))
	}
	var total time.Duration
	for _, s := range segs {
		total += time.Duration(s.ix.DurationUS) * time.Microsecond
	}
	want := units[len(units)-1].Time(units[len(units)-1].DTS-units[0].DTS) + 40*time.Millisecond
	if d := total - want; d.Abs() > 10*time.Millisecond {
		t.Errorf("recordings hold %v of media, %v was written", total, want)
	}
}

// TestFailedCloseIsRepaired: a close that fails (here its file is gone
// from under it) leaves the row to be repaired from the file once a later
// segment reaches the disk, and the recording loses nothing.
func TestFailedCloseIsRepaired(t *testing.T) {
	units, rec, d, storage := closeFeed(t)
	first := true
	setCloseHook(t, func(c *closing) {
		if first {
			first = false
			_ = c.f.Close() // every write of the close now fails
		}
	})
	for i := range units {
		rec.Write(&units[i])
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if st := rec.Status(); st.Segments != 4 || st.Dropped != 0 {
		t.Errorf("after close: %d segments completed by the closer, %d dropped; want 4 (one repaired), 0", st.Segments, st.Dropped)
	}
	segs := checkRecordings(t, d, storage, "cam") // all complete: the first one repaired
	if len(segs) != 5 {
		t.Fatalf("%d recordings, want 5", len(segs))
	}
	if got := time.Duration(segs[0].ix.DurationUS) * time.Microsecond; got < 1900*time.Millisecond {
		t.Errorf("repaired recording holds %v, want its 2 s", got)
	}
}
