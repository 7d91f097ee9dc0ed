package export

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Reader sends a byte range of an export. It holds at most one open
// segment file and one moof; Close releases the file.
type Reader struct {
	e        *Export
	off, end int64
	ci       int // chunk holding off, once off is past the head
	f        *os.File
	fseg     int32
	moof     []byte
	moofSeq  int32
}

// NewReader returns a reader of the n bytes from off.
func (e *Export) NewReader(off, n int64) *Reader {
	r := &Reader{e: e, off: off, end: min(off+n, e.Size), fseg: -1}
	r.ci = sort.Search(len(e.chunks), func(i int) bool { return e.chunks[i].out+e.chunks[i].size > off })
	return r
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= r.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.end-r.off)]
	if h := int64(len(r.e.head)); r.off < h {
		n := copy(p, r.e.head[r.off:])
		r.off += int64(n)
		return n, nil
	}
	for r.ci < len(r.e.chunks) && r.e.chunks[r.ci].out+r.e.chunks[r.ci].size <= r.off {
		r.ci++
	}
	if r.ci == len(r.e.chunks) {
		return 0, io.ErrUnexpectedEOF
	}
	n, err := r.readChunk(&r.e.chunks[r.ci], p)
	r.off += int64(n)
	return n, err
}

func (r *Reader) readChunk(c *chunk, p []byte) (int, error) {
	if err := r.open(c.seg); err != nil {
		return 0, err
	}
	in := r.off - c.out
	if c.seq > 0 {
		if err := r.loadMoof(c); err != nil {
			return 0, err
		}
		if in < int64(len(r.moof)) {
			return copy(p, r.moof[in:]), nil
		}
	}
	p = p[:min(int64(len(p)), c.size-in)]
	n, err := r.f.ReadAt(p, c.fileOff+in)
	if n == len(p) {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%s is shorter than its index", r.e.segs[c.seg].path)
	}
	return n, err
}

// loadMoof reads and patches the moof of the fmp4 part c.
func (r *Reader) loadMoof(c *chunk) error {
	if r.moofSeq == c.seq {
		return nil
	}
	m, err := readPartMoof(r.f, c.fileOff, c.size, r.moof)
	if err != nil {
		return err
	}
	shift := r.e.shift[c.seg]
	if err := patchMoof(m, uint32(c.seq), func(track uint32, t int64) int64 { return t + shift[track] }); err != nil {
		return fmt.Errorf("%s: %w", r.e.segs[c.seg].path, err)
	}
	r.moof, r.moofSeq = m, c.seq
	return nil
}

func (r *Reader) open(seg int32) error {
	if r.fseg == seg && r.f != nil {
		return nil
	}
	if err := r.Close(); err != nil {
		return err
	}
	f, err := os.Open(r.e.segs[seg].path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMissingFile, err)
	}
	r.f, r.fseg = f, seg
	return nil
}

// Close closes the open segment file.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f, r.fseg = nil, -1
	return err
}
