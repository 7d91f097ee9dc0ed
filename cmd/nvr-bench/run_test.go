package main

import (
	"testing"
	"time"

	"lightnvr/pkg/media/loadgen"
)

// The window of a lightnvr phase waits for the staggered start, which moves
// on at each stream's first keyframe: the sample's longest keyframe gap,
// the one across the loop's end included, sizes that wait.
func TestKeyframeGap(t *testing.T) {
	const frame = 3600 // 25 fps in 90 kHz
	smp := &loadgen.Sample{FrameDuration: frame}
	for i := range 150 { // keyframes at frames 0 and 50, then 100 frames to the loop's end
		smp.Video = append(smp.Video, loadgen.VideoAU{DTS: int64(i) * frame, Key: i == 0 || i == 50})
	}
	smp.Duration = 150 * frame
	if got, want := keyframeGap(smp), 4*time.Second; got != want {
		t.Errorf("gap %v, want %v (frame 50 to the loop's end and frame 0)", got, want)
	}
	smp.Video[100].Key = true // now 2 s everywhere
	if got, want := keyframeGap(smp), 2*time.Second; got != want {
		t.Errorf("gap %v, want %v", got, want)
	}
	if got := keyframeGap(&loadgen.Sample{}); got != 0 {
		t.Errorf("no keyframes: gap %v, want 0", got)
	}
}

// Each run's ratio is taken against the ffmpeg of that same run, which met
// the same host: a slow run of both must not read as a slow lightnvr.
func TestSpreads(t *testing.T) {
	run := func(n, k int, seg, serve time.Duration) runResult {
		return runResult{Streams: n, Run: k, Phases: []phaseResult{
			{Name: phFFSegment, Window: time.Minute, CPU: seg},
			{Name: phServe, Window: time.Minute, CPU: serve},
		}}
	}
	rows := spreads([]runResult{
		run(8, 1, 2400*time.Millisecond, 600*time.Millisecond),  // 0.300, 0.075: 0.25×
		run(8, 2, 3200*time.Millisecond, 1440*time.Millisecond), // 0.400, 0.180: 0.45×
		run(8, 3, 2400*time.Millisecond, 720*time.Millisecond),  // 0.300, 0.090: 0.30×
		run(1, 1, 400*time.Millisecond, 100*time.Millisecond),
	})
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (two recorders at two counts): %+v", len(rows), rows)
	}
	if r := rows[0]; r.Streams != 8 || r.Name != phFFSegment || r.Seg != nil || len(r.CPU) != 3 {
		t.Errorf("first row %+v, want ffmpeg segment MP4 at 8 streams, three runs, no ratio to itself", r)
	}
	r := rows[1]
	if r.Streams != 8 || r.Name != phServe {
		t.Fatalf("second row %+v, want lightnvr serve at 8 streams", r)
	}
	if got, want := minMedMax(r.CPU, "%.3f"), "0.075 · 0.090 · 0.180"; got != want {
		t.Errorf("CPU %q, want %q", got, want)
	}
	// Against the fastest ffmpeg the slowest run would read 0.60×.
	if got, want := minMedMax(r.Seg, "%.2f"), "0.25 · 0.30 · 0.45"; got != want {
		t.Errorf("ratio %q, want %q", got, want)
	}
	if r := rows[3]; r.Streams != 1 || r.Name != phServe || len(r.Seg) != 1 || r.Seg[0] != 0.25 {
		t.Errorf("last row %+v, want lightnvr serve at 1 stream, one run, 0.25×", r)
	}
	if got, want := minMedMax([]float64{4, 1, 2, 3}, "%.1f"), "1.0 · 2.5 · 4.0"; got != want {
		t.Errorf("even count: %q, want %q (median between the middle two)", got, want)
	}
	if got := minMedMax(nil, "%.1f"); got != "–" {
		t.Errorf("no runs: %q", got)
	}
}
