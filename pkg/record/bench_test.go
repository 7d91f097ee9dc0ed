package record

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

// benchUnits turns one loop of a 1080p 4 Mbit/s sample into units as
// ingest would publish them.
func benchUnits(b testing.TB) ([]media.Unit, int64) {
	smp, err := loadgen.LoadSample(testkit.Sample(b, testkit.SampleSpec{Size: "1920x1080", FPS: 25, GOP: 50,
		Bitrate: "4M", Seconds: 10}))
	if err != nil {
		b.Fatal(err)
	}
	tr := &media.Track{Codec: media.CodecH264, ClockRate: 90000, SPS: smp.SPS, PPS: smp.PPS, Width: 1920, Height: 1080, FPS: 25}
	desc := &media.Desc{Gen: 1, Video: tr}
	units := make([]media.Unit, len(smp.Video))
	var bytes int64
	for i, v := range smp.Video {
		p, err := h264.AVCC(v.AU).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		units[i] = media.Unit{Desc: desc, Track: tr, DTS: v.DTS, PTS: v.PTS, Key: v.Key, Payload: p}
		bytes += int64(len(p))
	}
	return units, bytes / int64(len(units))
}

func benchmarkHubToRecorder(b *testing.B, noSync bool) {
	units, avg := benchUnits(b)
	dir := b.TempDir()
	d := testkit.OpenDB(b, filepath.Join(dir, "nvr.db"))
	rec, err := New(Config{Stream: "bench", StorageDir: filepath.Join(dir, "s"), DB: d,
		SegmentDuration: time.Minute, NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	hub := media.NewHub()
	sub := hub.Subscribe("rec", 16)
	loop := units[len(units)-1].DTS + 3600
	start := time.Now()
	b.SetBytes(avg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := i % len(units)
		off := int64(i/len(units)) * loop
		u := new(media.Unit) // ingest allocates one unit per access unit
		*u = units[n]
		u.DTS += off
		u.PTS += off
		u.Seq = uint64(i + 1)
		u.Wall = start.Add(u.Time(u.DTS))
		hub.Publish(u)
		rec.Write(<-sub.C())
	}
	b.StopTimer()
	if err := rec.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHubToRecorder measures CPU and allocations per video access
// unit from Publish to bytes in the file (1080p, 4 Mbit/s, no fsync).
func BenchmarkHubToRecorder(b *testing.B) { benchmarkHubToRecorder(b, true) }

// BenchmarkHubToRecorderSync adds the per-part fdatasync of production.
func BenchmarkHubToRecorderSync(b *testing.B) { benchmarkHubToRecorder(b, false) }

// TestWriteAllocatesNothingPerUnit: between part flushes the recorder
// takes a unit without allocating (the flush's own allocations, once a
// second, average out below one per unit).
func TestWriteAllocatesNothingPerUnit(t *testing.T) {
	units, _ := benchUnits(t)
	dir := t.TempDir()
	rec, err := New(Config{Stream: "allocs", StorageDir: filepath.Join(dir, "s"),
		DB: testkit.OpenDB(t, filepath.Join(dir, "nvr.db")), SegmentDuration: time.Minute, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	// Units are made up front, as ingest would have made them.
	start := time.Now()
	loop := units[len(units)-1].DTS + 3600
	feed := make([]media.Unit, 4*len(units)+2)
	for i := range feed {
		u := &feed[i]
		*u = units[i%len(units)]
		off := int64(i/len(units)) * loop
		u.DTS += off
		u.PTS += off
		u.Seq = uint64(i + 1)
		u.Wall = start.Add(u.Time(u.DTS))
	}
	i := 0
	write := func() {
		rec.Write(&feed[i])
		i++
	}
	for range len(units) { // open the segment, flush its first parts
		write()
	}
	if n := testing.AllocsPerRun(3*len(units), write); n != 0 {
		t.Fatalf("%v allocations per unit, want 0", n)
	}
}
