package detect

import (
	"math"
	"time"

	"lightnvr/pkg/media"
)

// How the per-stream baseline of P-frame sizes is learnt.
const (
	// shortTau smooths the frame sizes that are scored, so that one large
	// frame (a re-sent slice, a flicker) is not motion but a few are.
	shortTau = 200 * time.Millisecond
	// baseTau is the memory of the baseline while the picture is still:
	// long enough that motion does not become the baseline before it is
	// seen, short enough to follow light changing over minutes.
	baseTau = 10 * time.Second
	// warmup is how much still picture a fresh baseline learns before it
	// scores anything.
	warmup     = time.Second
	warmFrames = 8
	// afterKey P-frames follow every keyframe at a raised size while the
	// encoder rebuilds its references; they are neither learnt nor scored.
	afterKey = 3
	// The deviation never counts as less than relFloor of the mean nor
	// absFloor bytes: a flat still picture codes every frame at the same
	// size, and a few bytes more is not motion.
	relFloor = 0.05
	absFloor = 4.0
	// maxStep bounds the time one frame may stand for (a gap in the
	// stream must not wipe the averages).
	maxStep = time.Second
)

// baseline is a rolling estimate of a stream's P-frame size when nothing
// moves: an exponentially weighted mean and mean absolute deviation, on
// the stream's own clock.
type baseline struct {
	started  bool
	prev     time.Duration // time of the previous video unit
	sinceKey int           // P-frames since the last keyframe
	learnt   time.Duration // still picture learnt since the last rebase
	frames   int
	mean     float64
	dev      float64
	short    float64 // recent frame sizes, smoothed over shortTau
}

// add takes one video unit and returns the score of the recent frames in
// deviations above the baseline; ok is false while there is nothing to
// score (a keyframe, the frames right after it, a baseline still warming
// up). The baseline learns only while busy is false: motion must not teach
// it that motion is normal.
func (b *baseline) add(u *media.Unit, now time.Duration, busy bool) (z float64, ok bool) {
	var dt time.Duration
	if b.started {
		dt = min(max(now-b.prev, 0), maxStep)
	}
	b.started, b.prev = true, now
	if u.Key {
		b.sinceKey = 0
		return 0, false
	}
	if b.sinceKey++; b.sinceKey <= afterKey {
		return 0, false
	}
	x := float64(len(u.Payload))
	if b.frames < warmFrames || b.learnt < warmup {
		b.learnCumulative(x, dt)
		return 0, false
	}
	b.short += weight(dt, shortTau) * (x - b.short)
	if !busy {
		w := weight(dt, baseTau)
		b.dev += w * (math.Abs(x-b.mean) - b.dev)
		b.mean += w * (x - b.mean)
	}
	// 1.25 × mean absolute deviation estimates the standard deviation.
	sd := max(1.25*b.dev, relFloor*b.mean, absFloor)
	return (b.short - b.mean) / sd, true
}

// learnCumulative averages every frame equally while the baseline is new.
func (b *baseline) learnCumulative(x float64, dt time.Duration) {
	b.frames++
	b.learnt += dt
	n := float64(b.frames)
	b.mean += (x - b.mean) / n
	b.dev += (math.Abs(x-b.mean) - b.dev) / n
	b.short = b.mean
}

// rebase forgets what was learnt, keeping the stream's clock.
func (b *baseline) rebase() {
	*b = baseline{started: b.started, prev: b.prev, sinceKey: b.sinceKey}
}

// weight is the share a sample dt long gets in an average with memory tau.
func weight(dt, tau time.Duration) float64 {
	return 1 - math.Exp(-float64(dt)/float64(tau))
}
