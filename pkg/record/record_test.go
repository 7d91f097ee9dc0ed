package record

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/testkit"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// pipeline is source → hub → recorder, plus a tap counting what the
// recorder was offered.
type pipeline struct {
	rec    *Recorder
	src    *media.Source
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	frames int // video units from the first keyframe on
	frameD time.Duration
}

func startPipeline(t testing.TB, url string, cfg Config) *pipeline {
	t.Helper()
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{Name: cfg.Stream, URL: url, Hub: hub, Backoff: backoff.Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond}})
	rec, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{rec: rec, src: src}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	sub := hub.Subscribe("recorder", 1024)
	tap := hub.Subscribe("tap", 4096)
	p.wg.Add(3)
	go func() { defer p.wg.Done(); _ = src.Run(ctx) }()
	go func() { defer p.wg.Done(); _ = rec.Run(ctx, sub) }()
	go func() {
		defer p.wg.Done()
		var last *media.Unit
		for {
			select {
			case <-ctx.Done():
				return
			case u := <-tap.C():
				if u == nil || !u.IsVideo() || (p.frames == 0 && !u.Key) {
					continue
				}
				p.mu.Lock()
				p.frames++
				if last != nil {
					p.frameD = u.Time(u.DTS - last.DTS)
				}
				p.mu.Unlock()
				last = u
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *pipeline) stop() {
	p.cancel()
	p.wg.Wait()
}

type segInfo struct {
	rec *db.Recording
	ix  *db.RecordingIndex
}

// checkRecordings asserts every recording of stream is complete, indexed
// and valid for ffprobe, and that no file lacks a row or row lacks a file.
func checkRecordings(t *testing.T, d *db.DB, storage, stream string) []segInfo {
	t.Helper()
	ctx := context.Background()
	recs, err := db.StreamRecordings(ctx, d, stream)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	_ = filepath.WalkDir(filepath.Join(storage, "mp4"), func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files[p] = true
		}
		return nil
	})
	var out []segInfo
	for _, r := range recs {
		if !r.IsComplete {
			t.Errorf("recording %d %s not complete", r.ID, r.FilePath)
		}
		if !files[r.FilePath] {
			t.Errorf("recording %d: file %s missing", r.ID, r.FilePath)
		}
		delete(files, r.FilePath)
		st, err := os.Stat(r.FilePath)
		if err == nil && st.Size() != r.SizeBytes {
			t.Errorf("recording %d: size %d in row, %d on disk", r.ID, r.SizeBytes, st.Size())
		}
		ix, err := db.GetRecordingIndex(ctx, d, r.ID)
		if err != nil {
			t.Fatalf("recording %d: %v", r.ID, err)
		}
		parts, err := DecodeParts(ix.Parts, ix.InitSize)
		if err != nil || len(parts) != ix.PartCount || len(parts) == 0 {
			t.Fatalf("recording %d: index %d parts, decoded %d (%v)", r.ID, ix.PartCount, len(parts), err)
		}
		lastP := parts[len(parts)-1]
		if lastP.Offset+lastP.Size != r.SizeBytes {
			t.Errorf("recording %d: index ends at %d, file has %d bytes", r.ID, lastP.Offset+lastP.Size, r.SizeBytes)
		}
		if !parts[0].Key {
			t.Errorf("recording %d does not start on a keyframe", r.ID)
		}
		pr := testkit.FFprobe(t, r.FilePath)
		if pr.Errors != "" {
			t.Errorf("ffprobe %s: %s", r.FilePath, pr.Errors)
		}
		if got, want := pr.Duration(), float64(ix.DurationUS)/1e6; math.Abs(got-want) > 0.1 {
			t.Errorf("%s: ffprobe duration %.3f, index %.3f", r.FilePath, got, want)
		}
		out = append(out, segInfo{rec: r, ix: ix})
	}
	for f := range files {
		t.Errorf("orphan file %s", f)
	}
	return out
}

func TestRecordLoadgen(t *testing.T) {
	testkit.Need(t, "ffprobe")
	recordFor := 30 * time.Second
	if testing.Short() {
		recordFor = 12 * time.Second
	}
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "640x360", FPS: 25, GOP: 25, Bitrate: "1M", AAC: true, Seconds: 10},
		loadgen.Config{Streams: 1, Audio: loadgen.AudioAAC})
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")
	p := startPipeline(t, lg.URL(0), Config{Stream: "front.door", StorageDir: storage, DB: d,
		SegmentDuration: 4 * time.Second})
	time.Sleep(recordFor)
	p.stop()
	if st := p.rec.Status(); st.State != StateClosed || st.Err != nil {
		t.Fatalf("status %+v", st)
	}

	segs := checkRecordings(t, d, storage, "front.door")
	if len(segs) < int(recordFor/(5*time.Second)) {
		t.Fatalf("%d segments in %v with 4 s segments", len(segs), recordFor)
	}
	var total time.Duration
	for i, s := range segs {
		if !strings.Contains(s.rec.FilePath, filepath.Join("mp4", "front_door")) ||
			!strings.HasPrefix(filepath.Base(s.rec.FilePath), "recording_") {
			t.Errorf("layout: %s", s.rec.FilePath)
		}
		if s.rec.Codec != "h264" || s.rec.Width != 640 || s.rec.Height != 360 || s.rec.FPS != 25 {
			t.Errorf("row %+v", s.rec)
		}
		pr := testkit.FFprobe(t, s.rec.FilePath)
		var v, a bool
		for _, st := range pr.Streams {
			v = v || st.CodecName == "h264" && st.Width == 640 && st.Height == 360
			a = a || st.CodecName == "aac"
		}
		if !v || !a {
			t.Errorf("%s: streams %+v", s.rec.FilePath, pr.Streams)
		}
		if e := testkit.DecodeErrors(t, s.rec.FilePath); e != "" {
			t.Errorf("%s does not decode cleanly: %s", s.rec.FilePath, e)
		}
		d := time.Duration(s.ix.DurationUS) * time.Microsecond
		if i < len(segs)-1 {
			if d < 4*time.Second || d > 5*time.Second+100*time.Millisecond {
				t.Errorf("segment %d lasts %v", i, d)
			}
			// The next segment starts exactly where this one ends.
			if gap := segs[i+1].ix.StartUS - (s.ix.StartUS + s.ix.DurationUS); gap < -1000 || gap > 1000 {
				t.Errorf("segments %d→%d: gap %d µs", i, i+1, gap)
			}
		}
		total += d
	}
	p.mu.Lock()
	sent := time.Duration(p.frames) * p.frameD
	p.mu.Unlock()
	if diff := (total - sent).Abs(); diff > 500*time.Millisecond {
		t.Fatalf("recorded %v, %d frames were sent (%v)", total, p.frames, sent)
	}
	t.Logf("%d segments, %v recorded, %v sent", len(segs), total, sent)
}

func TestRecordH265G711(t *testing.T) {
	testkit.Need(t, "ffprobe")
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Codec: "h265", Seconds: 4},
		loadgen.Config{Streams: 1, Audio: loadgen.AudioG711})
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")
	p := startPipeline(t, lg.URL(0), Config{Stream: "cam", StorageDir: storage, DB: d, SegmentDuration: 2 * time.Second})
	// Until two segments are complete, however long connecting takes here.
	testkit.WaitFor(t, 30*time.Second, "two complete segments", func() bool {
		recs, err := db.StreamRecordings(context.Background(), d, "cam")
		n := 0
		for _, r := range recs {
			if r.IsComplete {
				n++
			}
		}
		return err == nil && n >= 2
	})
	p.stop()
	segs := checkRecordings(t, d, storage, "cam")
	if len(segs) < 2 {
		t.Fatalf("%d segments", len(segs))
	}
	pr := testkit.FFprobe(t, segs[0].rec.FilePath)
	var codecsSeen []string
	for _, s := range pr.Streams {
		codecsSeen = append(codecsSeen, s.CodecName)
	}
	sort.Strings(codecsSeen)
	if segs[0].rec.Codec != "h265" || !strings.Contains(strings.Join(codecsSeen, ","), "hevc") {
		t.Fatalf("codec %s, streams %v", segs[0].rec.Codec, codecsSeen)
	}
	t.Logf("streams in file: %v", codecsSeen)
	for _, s := range segs {
		checkG711Audio(t, s.rec.FilePath)
	}
}

// checkG711Audio asserts that a segment recorded from the loadgen's G.711
// tone (µ-law, 8 kHz, mono) carries it as 16-bit big-endian PCM, the form
// MP4 players take, and that the audio spans the video.
func checkG711Audio(t *testing.T, path string) {
	t.Helper()
	pr := testkit.FFprobe(t, path)
	var video, audio []float64
	for _, s := range pr.Streams {
		d, err := strconv.ParseFloat(s.Duration, 64)
		if err != nil {
			t.Fatalf("%s: %s stream without a duration (%q)", path, s.CodecType, s.Duration)
		}
		switch s.CodecType {
		case "video":
			video = append(video, d)
		case "audio":
			if s.CodecName != "pcm_s16be" || s.SampleRate != "8000" || s.Channels != 1 {
				t.Errorf("%s: audio %s %s Hz %d ch, want pcm_s16be 8000 Hz 1 ch", path, s.CodecName, s.SampleRate, s.Channels)
			}
			audio = append(audio, d)
		}
	}
	if len(video) != 1 || len(audio) != 1 {
		t.Fatalf("%s: %d video and %d audio streams, want one each", path, len(video), len(audio))
	}
	// G.711 arrives in packets of a few tens of ms; the audio may start one
	// packet after the video's keyframe.
	if diff := math.Abs(audio[0] - video[0]); diff > 0.1 {
		t.Errorf("%s: audio lasts %.3f s, video %.3f s", path, audio[0], video[0])
	}
}

func TestRecordFaults(t *testing.T) {
	testkit.Need(t, "ffprobe")
	spec := testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, AAC: true, Seconds: 4}
	cases := []struct {
		name   string
		faults loadgen.Faults
		audio  string
		// minimum segments expected in the run
		minSegs int
	}{
		{"nonmonotonic", loadgen.Faults{NonMonotonicEvery: 2 * time.Second}, loadgen.AudioAAC, 2},
		{"jump", loadgen.Faults{JumpEvery: 2 * time.Second, JumpBy: 8 * time.Second}, loadgen.AudioAAC, 2},
		{"nosps", loadgen.Faults{StripParamsFor: 2 * time.Second}, loadgen.AudioAAC, 1},
		{"disconnect", loadgen.Faults{DisconnectEvery: 2 * time.Second}, loadgen.AudioG711, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lg := testkit.Loadgen(t, spec, loadgen.Config{Streams: 1, Audio: tc.audio,
				Faults: map[int]loadgen.Faults{0: tc.faults}})
			dir := t.TempDir()
			d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
			storage := filepath.Join(dir, "storage")
			p := startPipeline(t, lg.URL(0), Config{Stream: "cam", StorageDir: storage, DB: d,
				SegmentDuration: time.Minute})
			time.Sleep(5500 * time.Millisecond)
			p.stop()
			segs := checkRecordings(t, d, storage, "cam")
			if len(segs) < tc.minSegs {
				t.Fatalf("%d segments, want ≥ %d", len(segs), tc.minSegs)
			}
			var total time.Duration
			for _, s := range segs {
				total += time.Duration(s.ix.DurationUS) * time.Microsecond
			}
			if total < 2*time.Second {
				t.Fatalf("only %v recorded", total)
			}
		})
	}
}

// TestStorageUnavailable replaces the stream directory with a regular file
// (which stops root as well as anyone else from creating files there),
// expects a clear failing state, then restores it and expects recording to
// resume.
func TestStorageUnavailable(t *testing.T) {
	testkit.Need(t, "ffprobe")
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "320x240", FPS: 25, GOP: 25, Seconds: 4}, loadgen.Config{Streams: 1})
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")
	p := startPipeline(t, lg.URL(0), Config{Stream: "cam", StorageDir: storage, DB: d,
		SegmentDuration: time.Second, Backoff: backoff.Backoff{Min: 200 * time.Millisecond, Max: 400 * time.Millisecond}})
	testkit.WaitFor(t, 10*time.Second, "first segment", func() bool { return p.rec.Status().Segments >= 1 })

	sdir := StreamDir(storage, "cam")
	moved := sdir + ".away"
	if err := os.Rename(sdir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sdir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "failing state", func() bool {
		st := p.rec.Status()
		return st.State == StateFailing && st.Err != nil
	})
	st := p.rec.Status()
	if !strings.Contains(st.Err.Error(), sdir) {
		t.Errorf("error does not name the path: %v", st.Err)
	}
	t.Logf("error while unavailable: %v", st.Err)

	if err := os.Remove(sdir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, sdir); err != nil {
		t.Fatal(err)
	}
	before := p.rec.Status().Segments
	testkit.WaitFor(t, 15*time.Second, "recording again", func() bool {
		st := p.rec.Status()
		return st.Err == nil && st.State == StateRecording && st.Segments > before
	})
	p.stop()
	// Whatever the failure interrupted was repaired once writing worked.
	checkRecordings(t, d, storage, "cam")
}

// A slow disk holds a write inside fdatasync; the recorder's status (what
// /api/health shows) still answers at once, from its last snapshot, and the
// slow sync is logged once it ends.
func TestStatusDoesNotWaitForTheDisk(t *testing.T) {
	cam := testkit.StartCamera(t)
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	var hold atomic.Bool
	inSync, release := make(chan struct{}), make(chan struct{})
	logs := &testkit.SyncBuffer{}
	p := startPipeline(t, cam.URL(), Config{Stream: "cam", StorageDir: filepath.Join(dir, "storage"), DB: d,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Sync: func(f *os.File) error {
			if hold.CompareAndSwap(true, false) {
				close(inSync)
				<-release
			}
			return fdatasync(f)
		}})
	testkit.WaitFor(t, 20*time.Second, "a segment on disk", func() bool { return p.rec.Status().RecordingID != 0 })
	hold.Store(true)
	<-inSync
	held := time.Now()
	got := make(chan Status, 1)
	go func() { got <- p.rec.Status() }()
	select {
	case st := <-got:
		if st.State != StateRecording || st.Path == "" {
			t.Errorf("status during the sync %+v, want the open segment", st)
		}
	case <-time.After(10 * time.Second):
		t.Error("Status blocked while a write waited for the disk")
	}
	time.Sleep(slowSync - time.Since(held) + 100*time.Millisecond)
	close(release)
	testkit.WaitFor(t, 10*time.Second, "the slow sync logged", func() bool {
		return strings.Contains(logs.String(), `level=WARN msg="the disk was slow to make a part durable"`)
	})
}

func TestPartIndexRoundTrip(t *testing.T) {
	in := []partInfo{{size: 1000, dur: time.Second, key: true}, {size: 70000, dur: 960 * time.Millisecond}}
	out, err := DecodeParts(encodeParts(in, nil), 500)
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{{Offset: 500, Size: 1000, Duration: time.Second, Key: true},
		{Offset: 1500, Size: 70000, Start: time.Second, Duration: 960 * time.Millisecond}}
	if fmt.Sprint(out) != fmt.Sprint(want) {
		t.Fatalf("got %+v want %+v", out, want)
	}
}

func TestSanitizeStream(t *testing.T) {
	for in, want := range map[string]string{"front.door": "front_door", "Cam-1": "Cam-1", "a b/ü": "a_b__"} {
		if got := SanitizeStream(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}
