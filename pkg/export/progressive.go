package export

import (
	"errors"
	"fmt"
	"math"
	"os"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
)

// A progressive MP4 needs every sample's size, duration and flags in its
// moov. The index has them per part only, so each part's moof is read (at
// the offset the index gives; nothing else of the file is touched) and its
// samples listed. mediacommon's pmp4 writes ftyp+moov and decides the
// order of the samples in mdat; the order is taken from the payload calls
// it makes, which return nothing: the payload bytes are copied from the
// segment files when the export is sent.

// progTrack collects one track's samples across all parts.
type progTrack struct {
	t       *pmp4.Track
	started bool
	end     int64 // export ticks after the last sample
}

func (e *Export) buildProgressive(init *fmp4.Init) error {
	tracks := make(map[uint32]*progTrack, len(init.Tracks))
	pres := &pmp4.Presentation{}
	for _, it := range init.Tracks {
		pt := &progTrack{t: &pmp4.Track{ID: it.ID, TimeScale: it.TimeScale, Codec: it.Codec}}
		tracks[uint32(it.ID)] = pt
		pres.Tracks = append(pres.Tracks, pt.t)
	}
	var data int64
	var moof []byte
	for si, s := range e.segs {
		f, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("%w: recording %d (%s): %v", ErrMissingFile, s.id, s.path, err)
		}
		for i := s.first; i < s.last && err == nil; i++ {
			p := s.parts[i]
			if moof, err = readPartMoof(f, p.Offset, p.Size, moof); err != nil {
				err = fmt.Errorf("recording %d: %w", s.id, err)
				break
			}
			var runs []trackRun
			if runs, err = readMoof(moof); err != nil {
				err = fmt.Errorf("recording %d part %d: %w", s.id, i, err)
				break
			}
			data, err = e.addRuns(tracks, runs, int32(si), p.Offset, data)
		}
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	return e.marshalProgressive(pres, data)
}

// addRuns appends the samples of one part's trafs.
func (e *Export) addRuns(tracks map[uint32]*progTrack, runs []trackRun, seg int32, partOff, data int64) (int64, error) {
	for _, r := range runs {
		pt := tracks[r.track]
		if pt == nil {
			return 0, fmt.Errorf("part at %d: unknown track %d", partOff, r.track)
		}
		at := int64(r.baseTime) + e.shift[seg][r.track]
		pt.place(at)
		off := partOff + r.dataOffset
		for _, smp := range r.samples {
			loc := chunk{fileOff: off, size: int64(smp.size), seg: seg}
			pt.t.Samples = append(pt.t.Samples, &pmp4.Sample{Duration: smp.dur, PTSOffset: smp.cts,
				IsNonSyncSample: !smp.sync, PayloadSize: smp.size, GetPayload: e.payloadAt(loc)})
			pt.end += int64(smp.dur)
			off += int64(smp.size)
			data += int64(smp.size)
		}
	}
	return data, nil
}

// place makes the next sample start at export time at: the first sample
// of a track sets its offset, a hole (a gap between recordings) lengthens
// the sample before it so the timeline stays wall time. A step back of a
// few ticks (clock jitter between segments) is absorbed.
func (pt *progTrack) place(at int64) {
	if !pt.started {
		pt.started = true
		pt.t.TimeOffset = int32(min(max(at, 0), math.MaxInt32))
		pt.end = int64(pt.t.TimeOffset)
		return
	}
	if hole := at - pt.end; hole > 0 && len(pt.t.Samples) > 0 {
		last := pt.t.Samples[len(pt.t.Samples)-1]
		last.Duration = uint32(min(int64(last.Duration)+hole, math.MaxUint32))
		pt.end = at
	}
}

// payloadAt records where a sample's bytes go in the export when pmp4
// asks for them (in mdat order) and hands pmp4 nothing to write.
func (e *Export) payloadAt(loc chunk) func() ([]byte, error) {
	return func() ([]byte, error) {
		if n := len(e.chunks); n > 0 {
			c := &e.chunks[n-1]
			if c.seg == loc.seg && c.fileOff+c.size == loc.fileOff {
				c.size += loc.size
				return nil, nil
			}
			loc.out = c.out + c.size
		} else {
			loc.out = int64(len(e.head))
		}
		e.chunks = append(e.chunks, loc)
		return nil, nil
	}
}

// headWriter keeps what pmp4 writes: ftyp, moov and the mdat header (the
// payload writes are empty).
type headWriter struct{ e *Export }

func (w headWriter) Write(b []byte) (int, error) {
	w.e.head = append(w.e.head, b...)
	return len(b), nil
}

func (e *Export) marshalProgressive(pres *pmp4.Presentation, data int64) error {
	// pmp4 writes 32-bit chunk offsets and mdat size; leave room for moov.
	if data > math.MaxUint32-64<<20 {
		return ErrTooLarge
	}
	kept := pres.Tracks[:0]
	for _, t := range pres.Tracks {
		if len(t.Samples) > 0 {
			kept = append(kept, t)
		}
	}
	if pres.Tracks = kept; len(kept) == 0 {
		return errors.New("no samples in the range")
	}
	if err := pres.Marshal(headWriter{e}); err != nil {
		return fmt.Errorf("marshal mp4: %w", err)
	}
	e.Size = int64(len(e.head)) + data
	return nil
}
