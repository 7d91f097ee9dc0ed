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

var hourStart = time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)

// recordHour records one hour of the looped ffmpeg clip (320x240, 25 fps,
// 300 kbit/s, AAC) through the real recorder in 15-minute segments: the
// recorder is fed as fast as it writes, not in real time.
func recordHour(b *testing.B) *db.DB {
	dir := b.TempDir()
	d := testkit.OpenDB(b, filepath.Join(dir, "nvr.db"))
	exporttest.LoadClip(b, time.Second).Record(b, d, filepath.Join(dir, "storage"), "cam", 15*time.Minute,
		exporttest.Span{Start: hourStart, Length: time.Hour})
	return d
}

func planHour(b *testing.B, d *db.DB, f export.Format) *export.Plan {
	end := hourStart.Add(time.Hour)
	recs, err := db.IndexedRecordingsBetween(context.Background(), d, "cam", hourStart.UnixMicro(), end.UnixMicro())
	if err != nil {
		b.Fatal(err)
	}
	p, err := export.NewPlan(recs, hourStart, end, f)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkHour measures a 1 h export of each form.
func BenchmarkHour(b *testing.B) {
	d := recordHour(b)
	for _, f := range []export.Format{export.Fragmented, export.Progressive} {
		b.Run("first-byte/"+string(f), func(b *testing.B) { benchFirstByte(b, d, f) })
		b.Run("throughput/"+string(f), func(b *testing.B) { benchThroughput(b, d, f) })
	}
}

// benchFirstByte is the time to the first byte of an export with nothing
// cached: index query, plan, build (fmp4: one init read per segment; mp4:
// also every part's moof, and the moov), first read.
func benchFirstByte(b *testing.B, d *db.DB, f export.Format) {
	b.ReportAllocs()
	var size int64
	for b.Loop() {
		e, err := export.Build(planHour(b, d, f))
		if err != nil {
			b.Fatal(err)
		}
		r := e.NewReader(0, e.Size)
		var one [1]byte
		if _, err := io.ReadFull(r, one[:]); err != nil {
			b.Fatal(err)
		}
		_ = r.Close()
		size = e.Size
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB/export")
}

// benchThroughput reads a whole export (built once) as a response body
// would, through 32 KiB reads.
func benchThroughput(b *testing.B, d *db.DB, f export.Format) {
	e, err := export.Build(planHour(b, d, f))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(e.Size)
	b.ReportAllocs()
	buf := make([]byte, 32<<10)
	for b.Loop() {
		r := e.NewReader(0, e.Size)
		if _, err := io.CopyBuffer(io.Discard, onlyReader{r}, buf); err != nil {
			b.Fatal(err)
		}
		_ = r.Close()
	}
}

// onlyReader hides WriterTo/ReaderFrom so the copy goes through Read.
type onlyReader struct{ io.Reader }
