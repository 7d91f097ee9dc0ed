package media_test

import (
	"bytes"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// TestPooledFramesReachTheDiskIntact: ingest packs every video frame into a
// pooled buffer that goes back to the pool once each subscriber has
// released it. With subscribers that keep frames for different lengths of
// time (the recorder until it copies them into its part, a checker forty
// frames, another none at all),
// every frame on disk must be the frame the camera sent, byte for byte; no
// frame may change while somebody holds it; and the pool must really have
// served buffers again, or the test would prove nothing.
func TestPooledFramesReachTheDiskIntact(t *testing.T) {
	testkit.Need(t, "ffprobe")
	spec := testkit.SampleSpec{Size: "640x360", FPS: 25, GOP: 25, Bitrate: "1M", Seconds: 4}
	smp, err := loadgen.LoadSample(testkit.Sample(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	lg := testkit.Loadgen(t, spec, loadgen.Config{Streams: 1, Sample: smp})
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	storage := filepath.Join(dir, "storage")

	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{Name: "pool", URL: lg.URL(0), Hub: hub, NoAudio: true})
	rec, err := record.New(record.Config{Stream: "pool", StorageDir: storage, DB: d, SegmentDuration: 2 * time.Second, NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	recSub, holdSub, quickSub := hub.Subscribe("recorder", 1024), hub.Subscribe("holder", 1024), hub.Subscribe("quick", 1024)
	made := media.FramesMade()
	wg.Go(func() { _ = src.Run(ctx) })
	wg.Go(func() { _ = rec.Run(ctx, recSub) })
	var h holder
	wg.Go(func() { h.run(ctx, holdSub, 40) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-quickSub.C():
				if !ok {
					return
				}
				u.Release()
			}
		}
	})
	time.Sleep(9 * time.Second)
	cancel()
	wg.Wait()

	made = media.FramesMade() - made
	h.mu.Lock()
	units, changed := h.units, h.changed
	h.mu.Unlock()
	if units < 150 {
		t.Fatalf("only %d video units in 9 s", units)
	}
	if changed > 0 {
		t.Errorf("%d of %d frames changed while a subscriber held them", changed, units)
	}
	// Without reuse every frame would be a new buffer. The race
	// detector's pool drops a quarter of what it is given.
	if limit := uint64(units) * 2 / 3; made > limit {
		t.Errorf("%d buffers made for %d frames, want at most %d: the pool served few again", made, units, limit)
	}

	recs, err := db.StreamRecordings(context.Background(), d, "pool")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 3 {
		t.Fatalf("%d recordings in 9 s of 2 s segments", len(recs))
	}
	frames := 0
	for _, r := range recs {
		if pr := testkit.FFprobe(t, r.FilePath); pr.Errors != "" {
			t.Errorf("ffprobe %s: %s", r.FilePath, pr.Errors)
		}
		ix, err := db.GetRecordingIndex(context.Background(), d, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		frames += compareFrames(t, r.FilePath, ix.InitSize, smp)
	}
	if frames < units-2*spec.FPS {
		t.Errorf("%d frames on disk, %d were ingested", frames, units)
	}
	t.Logf("%d frames ingested into %d new buffers; %d frames on disk in %d recordings, all as sent", units, made, frames, len(recs))
}

// holder keeps the last n video units it got, checking that none changed
// while it held it before releasing it.
type holder struct {
	mu      sync.Mutex
	units   int
	changed int
}

type held struct {
	u   *media.Unit
	sum uint32
}

func (h *holder) run(ctx context.Context, sub *media.Subscription, n int) {
	var q []held
	check := func(x held) {
		if crc32.ChecksumIEEE(x.u.Payload) != x.sum {
			h.mu.Lock()
			h.changed++
			h.mu.Unlock()
		}
		x.u.Release()
	}
	defer func() {
		for _, x := range q {
			check(x)
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-sub.C():
			if !ok {
				return
			}
			if !u.IsVideo() {
				u.Release()
				continue
			}
			h.mu.Lock()
			h.units++
			h.mu.Unlock()
			q = append(q, held{u, crc32.ChecksumIEEE(u.Payload)})
			if len(q) > n {
				check(q[0])
				q = q[1:]
			}
		}
	}
}

// compareFrames checks every video sample of the fMP4 file at path, whose
// parts start at initSize (as its index says), against the sample's
// frames: the file's first frame is found in the sample, and from there
// each frame must be the sample's next one (the loadgen loops it).
// Parameter sets and delimiters are left out of the comparison, since
// ingest adds them to keyframes that lack them. It returns the number of
// frames compared.
func compareFrames(t *testing.T, path string, initSize int64, smp *loadgen.Sample) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if initSize <= 0 || initSize >= int64(len(b)) {
		t.Fatalf("%s: index puts the first part at %d of %d bytes", path, initSize, len(b))
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(b[initSize:]); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	next, n := -1, 0
	for _, p := range parts {
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				var au h264.AVCC
				if err := au.Unmarshal(s.Payload); err != nil {
					t.Fatalf("%s frame %d: %v", path, n, err)
				}
				got := pictureNALUs(au)
				if next < 0 {
					for i, v := range smp.Video {
						if nalusEqual(got, pictureNALUs(v.AU)) {
							next = i
							break
						}
					}
					if next < 0 {
						t.Fatalf("%s: the first frame is none of the sample's", path)
					}
				}
				if want := pictureNALUs(smp.Video[next].AU); !nalusEqual(got, want) {
					t.Fatalf("%s frame %d is not sample frame %d as sent", path, n, next)
				}
				next = (next + 1) % len(smp.Video)
				n++
			}
		}
	}
	return n
}

func pictureNALUs(au [][]byte) [][]byte {
	var out [][]byte
	for _, n := range au {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeAccessUnitDelimiter:
		default:
			out = append(out, n)
		}
	}
	return out
}

func nalusEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
