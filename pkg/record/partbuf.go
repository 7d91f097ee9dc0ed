package record

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// partBuf holds one track's payloads of the part being gathered, copied
// out of the units as they arrive so each unit's frame goes back to its
// pool at once instead of a second later.
//
// It is anonymous memory mapped outside the Go heap. A part is about a
// second of video (500 KB at 4 Mbit/s); on the heap that second is live
// data the collector's pacing lets the heap grow past by as much again,
// and the frames it was copied from sat in the pool's size classes, each
// class keeping its own high-water mark. Here it costs the pages the
// largest part touched, no more: the mapping is virtual space until
// written, and trim gives back pages a burst touched once.
type partBuf struct {
	size int    // of the first mapping
	b    []byte // the mapping; len(b) is its size
	n    int    // bytes of the current part
	peak int    // the most bytes a part used since the last trim
	heap bool   // b is a heap slice: the kernel refused the mapping
}

// Sizes of the first mapping per track kind: a second of 8 Mbit/s video
// fits without growing, and audio at any bitrate a camera sends. A larger
// part doubles the mapping.
const (
	videoPartSize = 1 << 20
	audioPartSize = 64 << 10
)

// add copies p in and returns the copy and whether the buffer moved (the
// part's earlier copies must then be taken again from bytes, in order).
func (pb *partBuf) add(p []byte) ([]byte, bool) {
	moved := false
	if pb.n+len(p) > len(pb.b) {
		pb.grow(max(len(pb.b)*2, pb.size, pb.n+len(p)))
		moved = true
	}
	dst := pb.b[pb.n : pb.n+len(p)]
	copy(dst, p)
	pb.n += len(p)
	pb.peak = max(pb.peak, pb.n)
	return dst, moved
}

// bytes is the current part's payloads, in the order added.
func (pb *partBuf) bytes() []byte { return pb.b[:pb.n] }

// reset empties the buffer for the next part.
func (pb *partBuf) reset() { pb.n = 0 }

// grow replaces the mapping with one of at least size bytes holding the
// current part.
func (pb *partBuf) grow(size int) {
	page := os.Getpagesize()
	size = (size + page - 1) / page * page
	nb, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	heap := false
	if err != nil {
		// Out of address space or mappings: the heap still works, it is
		// only dearer to keep.
		nb, heap = make([]byte, size), true
	}
	copy(nb, pb.b[:pb.n])
	n := pb.n
	pb.free()
	pb.b, pb.n, pb.heap = nb, n, heap
}

// trim gives the kernel back the pages beyond what any part used since
// the last trim, so a burst (a scene full of detail, a camera's bitrate
// turned down) does not keep its pages for the life of the stream.
// Called between segments, with the buffer empty.
func (pb *partBuf) trim() error {
	page := os.Getpagesize()
	keep := (pb.peak + page - 1) / page * page
	pb.peak = 0
	if pb.heap || keep >= len(pb.b) {
		return nil
	}
	if err := unix.Madvise(pb.b[keep:], unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("release part buffer pages: %w", err)
	}
	return nil
}

// free unmaps the buffer; it is empty and unmapped afterwards.
func (pb *partBuf) free() {
	if pb.b != nil && !pb.heap {
		// Munmap fails only for an address range that is not a mapping,
		// which would be a bug here, not a condition to handle.
		if err := unix.Munmap(pb.b); err != nil {
			panic(fmt.Sprintf("unmap part buffer: %v", err))
		}
	}
	pb.b, pb.n, pb.heap = nil, 0, false
}
