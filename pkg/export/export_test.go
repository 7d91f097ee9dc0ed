package export_test

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/export"
	"lightnvr/pkg/export/exporttest"
	"lightnvr/pkg/testkit"
)

// TestCutAtKeyframeBefore: with a keyframe every 2 s and parts of 1 s,
// half the parts start mid-GOP. An export asked to start inside such a
// part starts at the part with the keyframe before it, and decodes from
// its first frame.
func TestCutAtKeyframeBefore(t *testing.T) {
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exporttest.LoadClip(t, 2*time.Second).Record(t, d, filepath.Join(dir, "storage"), "cam", 10*time.Second,
		exporttest.Span{Start: start, Length: 20 * time.Second})
	from, to := start.Add(13500*time.Millisecond), start.Add(17*time.Second)
	recs, err := db.IndexedRecordingsBetween(context.Background(), d, "cam", from.UnixMicro(), to.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []export.Format{export.Fragmented, export.Progressive} {
		p, err := export.NewPlan(recs, from, to, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(12 * time.Second); !p.Start.Equal(want) {
			t.Errorf("%s starts at %s, want the keyframe at %s", f, p.Start, want)
		}
		e, err := export.Build(p)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "cut."+string(f))
		body, err := io.ReadAll(e.NewReader(0, e.Size))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if errs := testkit.DecodeErrors(t, out); errs != "" {
			t.Errorf("%s: %s", f, errs)
		}
		if dur := testkit.FFprobe(t, out).Duration(); math.Abs(dur-5) > 0.1 {
			t.Errorf("%s: %.3f s, want 12 s to 17 s", f, dur)
		}
	}
}
