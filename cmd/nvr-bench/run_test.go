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
