package record

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// TestDirFormats records one real stream per mp4_directory_format and
// checks where the segments went: <storage>/mp4/<stream>/ then nothing,
// YYYY/MM or YYYY/MM/DD of the segment's local start.
func TestDirFormats(t *testing.T) {
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x180", FPS: 25, GOP: 25, Bitrate: "300k", Seconds: 4},
		loadgen.Config{Streams: 3})
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")
	formats := map[string]string{"flat": DirFlat, "ym": DirYearMonth, "ymd": ""}
	var ps []*pipeline
	i := 0
	for name, f := range formats {
		ps = append(ps, startPipeline(t, lg.URL(i), Config{Stream: name, StorageDir: storage, DB: d,
			SegmentDuration: time.Second, DirFormat: f}))
		i++
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range ps {
		for p.rec.Status().Segments < 1 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		p.stop()
	}
	for name, f := range formats {
		recs, err := db.StreamRecordings(context.Background(), d, name)
		if err != nil || len(recs) == 0 {
			t.Fatalf("%s: %d recordings, %v", name, len(recs), err)
		}
		for _, r := range recs {
			start := time.Unix(r.StartTime, 0).Local()
			want := filepath.Join(storage, "mp4", name)
			switch f {
			case DirYearMonth:
				want = filepath.Join(want, start.Format("2006"), start.Format("01"))
			case "":
				want = filepath.Join(want, start.Format("2006"), start.Format("01"), start.Format("02"))
			}
			if got := filepath.Dir(r.FilePath); got != want {
				t.Errorf("%s (%q): segment in %s, want %s", name, f, got, want)
			}
		}
	}
}
