package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
)

// maxMoof bounds the moof read for one part: a second of video has a few
// hundred samples of 16 bytes each.
const maxMoof = 4 << 20

// chunk is a run of export bytes copied from a segment file.
type chunk struct {
	out     int64 // offset in the export
	fileOff int64
	size    int64
	seg     int32
	seq     int32 // > 0: an fmp4 part whose moof gets this sequence number
}

// Export is a built export: its first bytes in memory (init, or
// ftyp+moov+mdat header), the rest read from the segment files as sent.
type Export struct {
	*Plan
	Size int64

	head   []byte
	chunks []chunk
	// shift[seg][track] is what is added to a part's decode time (in the
	// track's ticks) to place it on the export's clock.
	shift []map[uint32]int64
}

// Build reads what the plan needs from the segment files (their init
// segments; for Progressive also every part's moof) and lays out the
// export. A recording whose track layout or codec parameters differ from
// the first one ends the export before it (End says where).
func Build(p *Plan) (*Export, error) {
	e := &Export{Plan: p}
	init, err := e.readInits()
	if err != nil {
		return nil, err
	}
	if p.Format == Progressive {
		err = e.buildProgressive(init)
	} else {
		err = e.buildFragmented(init)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// readInits reads each segment's init, keeps the segments sharing the
// first one's and works out their decode-time shifts.
func (e *Export) readInits() (*fmp4.Init, error) {
	var first *fmp4.Init
	var firstBytes []byte
	for i, s := range e.segs {
		init, b, err := readInit(s)
		if err != nil {
			return nil, err
		}
		if first == nil {
			first, firstBytes = init, b
		} else if !bytes.Equal(b, firstBytes) {
			e.cut(i)
			break
		}
		sh := make(map[uint32]int64, len(init.Tracks))
		for _, t := range init.Tracks {
			sh[uint32(t.ID)] = ticks(s.deltaUS, t.TimeScale)
		}
		e.shift = append(e.shift, sh)
	}
	return first, nil
}

// readInit reads and re-marshals a segment's ftyp+moov: the re-marshalled
// form drops what differs between files of one stream (the duration
// patched at close) and keeps tracks and codec parameters.
func readInit(s *segment) (*fmp4.Init, []byte, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: recording %d (%s)", ErrMissingFile, s.id, s.path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open recording %d: %w", s.id, err)
	}
	defer func() { _ = f.Close() }()
	n := s.parts[0].Offset
	if n <= 0 || n > maxMoof {
		return nil, nil, fmt.Errorf("recording %d: bad init size %d", s.id, n)
	}
	raw := make([]byte, n)
	if _, err := f.ReadAt(raw, 0); err != nil {
		return nil, nil, fmt.Errorf("read init of recording %d: %w", s.id, err)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(raw)); err != nil {
		return nil, nil, fmt.Errorf("init of recording %d: %w", s.id, err)
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, nil, fmt.Errorf("init of recording %d: %w", s.id, err)
	}
	return &init, buf.Bytes(), nil
}

// cut ends the export before segment i.
func (e *Export) cut(i int) {
	e.segs = e.segs[:i]
	last := e.segs[i-1]
	e.End = e.Start.Add(usDuration(last.endUS))
	kept := e.Gaps[:0]
	for _, g := range e.Gaps {
		if g.End.Before(e.End) || g.End.Equal(e.End) {
			kept = append(kept, g)
		}
	}
	e.Gaps = kept
}

// ticks converts microseconds to a track's clock, rounding down.
func ticks(us int64, clock uint32) int64 {
	n := us * int64(clock)
	q := n / 1_000_000
	if n%1_000_000 < 0 {
		q--
	}
	return q
}

func (e *Export) buildFragmented(init *fmp4.Init) error {
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return fmt.Errorf("marshal init: %w", err)
	}
	e.head = buf.Bytes()
	out := int64(len(e.head))
	seq := int32(0)
	for si, s := range e.segs {
		for i := s.first; i < s.last; i++ {
			seq++
			p := s.parts[i]
			e.chunks = append(e.chunks, chunk{out: out, fileOff: p.Offset, size: p.Size, seg: int32(si), seq: seq})
			out += p.Size
		}
	}
	e.Size = out
	return nil
}

// readPartMoof reads the moof at the start of a part into buf.
func readPartMoof(f io.ReaderAt, off, partSize int64, buf []byte) ([]byte, error) {
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return nil, fmt.Errorf("read moof at %d: %w", off, err)
	}
	n := int64(be.Uint32(hdr[:]))
	if n < 8 || n > partSize || n > maxMoof {
		return nil, fmt.Errorf("bad moof size %d at %d", n, off)
	}
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("read moof at %d: %w", off, err)
	}
	return buf, nil
}

// Check reports ErrMissingFile when a segment file is gone (deleted by
// retention since the export was built), so a request fails up front
// rather than mid-body.
func (e *Export) Check() error {
	for _, s := range e.segs {
		if _, err := os.Stat(s.path); err != nil {
			return fmt.Errorf("%w: recording %d (%s)", ErrMissingFile, s.id, s.path)
		}
	}
	return nil
}
