package media

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// A frame is the payload buffer of one video unit, taken from a pool and
// given back once nobody reads it. At 32 streams of 1080p, allocating each
// frame anew made the heap's live set saw between 11 and 25 MB every second:
// the collector ran once a second, the scavenger returned the freed pages to
// the kernel and the next frames faulted them back in, 8 % of the daemon's
// CPU. Reused buffers keep the heap flat.
//
// Ownership is counted: the producer holds one reference, and the hub takes
// one more for each subscriber it hands the unit to. A subscriber that has
// finished with the payload gives its reference back with Unit.Release; one
// that never does (a live view holding segments) only keeps the buffer from
// the pool, and the collector frees it as before. The count can therefore
// only keep a buffer too long, never free it early, as long as nobody
// releases a reference it was not given.
type frame struct {
	refs  atomic.Int32
	owner *Unit // the unit the buffer belongs to now; copies of it release nothing
	buf   []byte
	nalus [][]byte // the unit's NAL units, sub-slices of buf
	class int
}

// Frame sizes come in classes a quarter of a power of two apart, so a
// buffer is at most a quarter larger than the frame it holds. Frames up to
// 4 KiB share one class; those over 8 MiB are not pooled.
const (
	minFrameShift = 12 // 4 KiB
	maxFrameShift = 23 // 8 MiB, the largest access unit the depacketizer accepts
	frameSteps    = 4
	frameClasses  = (maxFrameShift-minFrameShift)*frameSteps + 1
)

var framePools [frameClasses]sync.Pool

// framesMade counts the frames allocated because no pool had one to give.
var framesMade atomic.Uint64

// frameClass returns the class that holds n bytes and the class's size;
// -1 when n is too large to pool.
func frameClass(n int) (int, int) {
	if n <= 1<<minFrameShift {
		return 0, 1 << minFrameShift
	}
	e := bits.Len(uint(n-1)) - 1 // 1<<e < n <= 1<<(e+1)
	if e >= maxFrameShift {
		return -1, n
	}
	step := 1 << (e - 2)
	q := (n - 1<<e + step - 1) / step // 1..4
	return (e-minFrameShift)*frameSteps + q, 1<<e + q*step
}

// getFrame returns a frame of n bytes, unzeroed, with one reference (the
// caller's).
func getFrame(n int) *frame {
	c, size := frameClass(n)
	var f *frame
	if c >= 0 {
		f, _ = framePools[c].Get().(*frame)
	}
	if f == nil {
		f = &frame{class: c, buf: make([]byte, size)}
		framesMade.Add(1)
	}
	f.buf = f.buf[:n]
	f.refs.Store(1)
	return f
}

func (f *frame) retain() { f.refs.Add(1) }

func (f *frame) release() {
	switch n := f.refs.Add(-1); {
	case n > 0:
	case n == 0:
		if f.class < 0 {
			return
		}
		f.owner = nil
		clear(f.nalus) // they point into buf; the pool must not pin anything else
		f.nalus = f.nalus[:0]
		framePools[f.class].Put(f)
	default:
		// Someone released a reference twice: the buffer may already hold
		// another unit's frame. Continuing would write wrong video.
		panic("media: frame released more often than it was retained")
	}
}

// Release gives back the reference to u's payload that the hub handed over
// with u. After it the caller must not read u.Payload or u.NALUs; the rest
// of the unit stays valid. Units that do not come from a pool (audio,
// copies, units made by tests) ignore it, so every consumer may call it.
func (u *Unit) Release() {
	if f := u.frame; f != nil && f.owner == u {
		f.release()
	}
}

// retain takes one more reference for a subscriber.
func (u *Unit) retain() {
	if f := u.frame; f != nil && f.owner == u {
		f.retain()
	}
}

// Meta returns a copy of u without its payload, for keeping a unit's
// timing after the payload was copied elsewhere.
func (u *Unit) Meta() Unit {
	m := *u
	m.Payload, m.NALUs, m.frame = nil, nil, nil
	return m
}
