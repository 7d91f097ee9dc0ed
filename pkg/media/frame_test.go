package media

import (
	"bytes"
	"testing"
)

// TestFrameClass: a class holds every size up to its own, wastes at most a
// quarter above 4 KiB, and sizes past the largest access unit are not
// pooled.
func TestFrameClass(t *testing.T) {
	sizeOf := map[int]int{}
	prev := 0
	for n := 1; n <= 1<<maxFrameShift; n += 1 + n/97 {
		c, size := frameClass(n)
		if c < 0 || c >= frameClasses {
			t.Fatalf("frameClass(%d) = class %d, want 0..%d", n, c, frameClasses-1)
		}
		if size < n || (n > 1<<minFrameShift && 4*size > 5*n) {
			t.Fatalf("frameClass(%d) = size %d", n, size)
		}
		if c < prev {
			t.Fatalf("frameClass(%d) = class %d after class %d", n, c, prev)
		}
		if s, ok := sizeOf[c]; ok && s != size {
			t.Fatalf("class %d has sizes %d and %d", c, s, size)
		}
		sizeOf[c], prev = size, c
	}
	for _, n := range []int{1 << minFrameShift, 1<<minFrameShift + 1, 5 << 10, 5<<10 + 1, 1 << maxFrameShift} {
		if _, size := frameClass(n); size < n {
			t.Errorf("frameClass(%d) = size %d", n, size)
		}
	}
	if c, size := frameClass(1<<maxFrameShift + 1); c != -1 || size != 1<<maxFrameShift+1 {
		t.Errorf("frameClass past the largest = %d, %d; want -1 and the size itself", c, size)
	}
}

func pooledUnit(n int) *Unit {
	f := packAVCC([][]byte{make([]byte, n)})
	u := &Unit{Payload: f.buf, NALUs: f.nalus, frame: f}
	f.owner = u
	return u
}

// TestHubReferences: the hub gives each subscriber a reference, takes back
// the one of a subscriber that lost the unit, and the buffer goes back to
// the pool only when the producer and every subscriber released it; a
// subscriber that never releases keeps it out of the pool.
func TestHubReferences(t *testing.T) {
	h := NewHub()
	a, b := h.Subscribe("a", 4), h.Subscribe("b", 4)
	full := h.Subscribe("full", 1)
	full.ch <- &Unit{} // its buffer is full: it loses the next unit

	u := pooledUnit(10000)
	f := u.frame
	h.Publish(u)
	if got := f.refs.Load(); got != 3 {
		t.Fatalf("after publishing to two subscribers (one more full): %d references, want 3", got)
	}
	if full.Dropped() != 1 {
		t.Fatalf("full subscriber dropped %d", full.Dropped())
	}
	u.Release() // the producer's
	(<-a.C()).Release()
	if f.owner != u {
		t.Fatal("the buffer went back to the pool while b still held it")
	}
	(<-b.C()).Release()
	if f.owner != nil || f.refs.Load() != 0 {
		t.Fatalf("all released: owner %p, %d references; want it back in the pool", f.owner, f.refs.Load())
	}

	// b never releases: the frame stays out of the pool for good.
	u = pooledUnit(10000)
	f = u.frame
	h.Publish(u)
	u.Release()
	(<-a.C()).Release()
	<-b.C()
	if f.owner != u || f.refs.Load() != 1 {
		t.Fatalf("held by b: owner %p, %d references", f.owner, f.refs.Load())
	}
}

// TestUnitCopiesReleaseNothing: a copy of a unit (as a pre-event buffer
// keeps) shares the payload but holds no reference, so releasing it must
// not touch the frame; Meta drops the payload altogether.
func TestUnitCopiesReleaseNothing(t *testing.T) {
	u := pooledUnit(5000)
	c := *u
	c.Release()
	c.retain()
	if got := u.frame.refs.Load(); got != 1 {
		t.Fatalf("a copy changed the references to %d", got)
	}
	m := u.Meta()
	if m.Payload != nil || m.NALUs != nil || m.frame != nil {
		t.Fatalf("Meta kept the payload: %+v", m)
	}
	u.Release()
	u.Release() // the frame has left u: nothing happens
	(&Unit{}).Release()
}

// TestFrameDoubleRelease: releasing one reference twice would hand a
// buffer still in use to the next frame, so it must stop the daemon
// rather than write the wrong video.
func TestFrameDoubleRelease(t *testing.T) {
	f := getFrame(100)
	f.release()
	defer func() {
		if recover() == nil {
			t.Fatal("a second release went unnoticed")
		}
	}()
	f.release()
}

// TestDTSExtractorKeepsItsOwnParameterSets: the codec's extractor keeps
// the last SPS it saw to compare the next with, and resets its reordering
// state when they differ. Its SPS must therefore not lie in a frame buffer
// that the pool hands to later frames; the picture itself is not copied.
func TestDTSExtractorKeepsItsOwnParameterSets(t *testing.T) {
	for _, c := range []struct {
		codec    Codec
		sps, pps byte
	}{{CodecH264, 0x67, 0x68}, {CodecH265, 33 << 1, 34 << 1}} {
		d := dtsExtractor{codec: c.codec}
		buf := []byte{c.sps, 1, 2, 3, c.pps, 4, 0x02, 9}
		got := d.stable([][]byte{buf[0:4], buf[4:6], buf[6:8]})
		sps, pps := got[0], got[1]
		copy(buf, make([]byte, len(buf))) // the pool gives the buffer to another frame
		if !bytes.Equal(sps, []byte{c.sps, 1, 2, 3}) || !bytes.Equal(pps, []byte{c.pps, 4}) {
			t.Errorf("%s: parameter sets changed with the frame's buffer: % x, % x", c.codec, sps, pps)
		}
		if &got[2][0] != &buf[6] {
			t.Errorf("%s: the picture was copied", c.codec)
		}
		buf2 := []byte{c.sps, 1, 2, 3, 0x02, 8}
		again := d.stable([][]byte{buf2[0:4], buf2[4:6]})
		if &again[0][0] != &sps[0] {
			t.Errorf("%s: an unchanged SPS was copied again", c.codec)
		}
		buf3 := []byte{c.sps, 1, 2, 7, 0x02, 8}
		if changed := d.stable([][]byte{buf3[0:4], buf3[4:6]}); !bytes.Equal(changed[0], buf3[0:4]) || &changed[0][0] == &buf3[0] {
			t.Errorf("%s: a new SPS = % x, want an owned copy of % x", c.codec, changed[0], buf3[0:4])
		}
	}
}
