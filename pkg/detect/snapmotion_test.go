package detect

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"testing"
)

// picture is a 640×360 grey JPEG with a white box at (x, y) of side size
// (none when size is 0).
func picture(t *testing.T, x, y, size int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 640, 360))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	for py := y; py < y+size; py++ {
		for px := x; px < x+size; px++ {
			img.SetGray(px, py, color.Gray{Y: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gridOf(t *testing.T, frame []byte) grid {
	t.Helper()
	g, err := greyGrid(frame)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The grey grid sees a box that moved, where it moved, only inside the
// zones, and only when it covers enough of the watched picture for the
// sensitivity.
func TestSnapshotGridChanges(t *testing.T) {
	still := gridOf(t, picture(t, 0, 0, 0))
	if still.w != 64 || still.h != 36 || len(still.px) != 64*36 {
		t.Fatalf("grid %dx%d (%d cells), want 64x36", still.w, still.h, len(still.px))
	}
	if _, ok := still.changed(gridOf(t, picture(t, 0, 0, 0)), nil, 0.001); ok {
		t.Fatal("two encodings of the same picture differ")
	}
	box := gridOf(t, picture(t, 400, 150, 60)) // cells 40..45 × 15..20
	d, ok := box.changed(still, nil, 0.001)
	if !ok || d.X < 0.6 || d.X > 0.64 || d.Y < 0.4 || d.Y > 0.43 || d.Width > 0.13 || d.Height > 0.22 {
		t.Fatalf("box at (400,150) 60 px: changed %v, box %+v", ok, d)
	}
	left := Zone{ID: "left", Enabled: true, Polygon: []Point{{0, 0}, {0.5, 0}, {0.5, 1}, {0, 1}}}
	if _, ok := box.changed(still, []Zone{left}, 0.001); ok {
		t.Fatal("a change outside the only zone counted")
	}
	right := Zone{ID: "right", Enabled: true, Polygon: []Point{{0.5, 0}, {1, 0}, {1, 1}, {0.5, 1}}}
	if _, ok := box.changed(still, []Zone{left, right}, 0.001); !ok {
		t.Fatal("a change inside a zone did not count")
	}
	low := NewSnapshotMotion(MotionConfig{Sensitivity: 0}, nil, slog.New(slog.DiscardHandler)).area
	if _, ok := box.changed(still, nil, low); ok {
		t.Fatalf("a 60 px box (1.6%% of the picture) counted at sensitivity 0 (area %.3f)", low)
	}
}

// BenchmarkSnapshotRound is snapshot motion's work on one 1080p picture
// (decode, shrink, compare), reported per stream-minute at one picture a
// second. go2rtc's cost of making the JPEG is not in it.
func BenchmarkSnapshotRound(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 1920, 1080)) // encodes as YCbCr, as a camera's picture
	// Gradients with a little grain, as a scene.
	for i := range img.Pix {
		x, y := i/4%1920, i/4/1920
		img.Pix[i] = uint8((x+2*y)/12 + i%5)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		b.Fatal(err)
	}
	frame := buf.Bytes()
	prev, err := greyGrid(frame)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		g, err := greyGrid(frame)
		if err != nil {
			b.Fatal(err)
		}
		g.changed(prev, nil, 0.01)
	}
	b.StopTimer()
	perRound := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perRound*60/1e9, "cpu-s/stream-min")
}
