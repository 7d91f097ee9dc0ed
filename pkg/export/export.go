// Package export builds one MP4 for any time range of a stream from its
// recorded fMP4 segments, on the fly: no transcoding, no temporary file.
// The part index (recording_index) decides which bytes go out; segment
// files are only read at the offsets it names.
//
// Two forms: Fragmented (fmp4: the segments' moof+mdat parts copied with
// their decode times and sequence numbers rewritten in place, for <video>
// playback) and Progressive (mp4: ftyp+moov first, then one mdat, for
// download). Both have their size and ETag known before the first byte,
// so they can be served with Range.
package export

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/record"
)

// Format is the kind of MP4 an export is.
type Format string

// Formats.
const (
	Fragmented  Format = "fmp4"
	Progressive Format = "mp4"
)

// ParseFormat reads a format name; "" is Fragmented.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case "", Fragmented:
		return Fragmented, nil
	case Progressive:
		return Progressive, nil
	}
	return "", fmt.Errorf("unknown format %q: use fmp4 or mp4", s)
}

// GapThreshold is the largest hole between two recordings still taken as
// continuous: wall clocks of consecutive segments jitter by a few frames.
const GapThreshold = time.Second

var (
	// ErrNothingRecorded: no indexed part of the stream overlaps the range.
	ErrNothingRecorded = errors.New("nothing recorded in the range")
	// ErrMissingFile: a recording the index names has no file.
	ErrMissingFile = errors.New("recording file missing")
	// ErrTooLarge: a progressive MP4 is limited to 32-bit offsets.
	ErrTooLarge = errors.New("range too large for a progressive mp4 (4 GiB); use fmp4")
)

// Gap is a hole between two recordings inside an export. The export's
// timeline keeps it: media time in the file is wall time since Start.
type Gap struct {
	Start, End time.Time
}

// segment is one recording that contributes parts to an export.
type segment struct {
	id      int64
	path    string
	startUS int64 // wall time of the segment's media time 0
	parts   []record.Part
	first   int   // index of the first part taken
	last    int   // one past the last part taken
	deltaUS int64 // export time of the segment's media time 0
	endUS   int64 // export time after its last part taken
}

func (s *segment) partStartUS(i int) int64 { return s.startUS + s.parts[i].Start.Microseconds() }

func (s *segment) partEndUS(i int) int64 {
	return s.partStartUS(i) + s.parts[i].Duration.Microseconds()
}

// Plan is what an export will contain, decided from the index alone.
type Plan struct {
	Format Format
	// Start is where the export really begins: the start of the part
	// holding the keyframe at or before the requested start. End is the
	// end of the last part that starts before the requested end.
	Start, End time.Time
	Gaps       []Gap
	// ETag identifies the bytes of the export: the same index rows and
	// range give the same ETag; a recording added, grown, repaired or
	// deleted inside the range changes it.
	ETag string

	segs []*segment
}

// NewPlan picks the parts of recs (in start order, as
// db.IndexedRecordingsBetween returns them) that cover [start, end).
func NewPlan(recs []db.IndexedRecording, start, end time.Time, f Format) (*Plan, error) {
	fromUS, toUS := start.UnixMicro(), end.UnixMicro()
	p := &Plan{Format: f}
	var coveredUS int64
	for i := range recs {
		s, err := pick(&recs[i], fromUS, toUS)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		// Overlapping recordings of one stream (a clip during continuous
		// recording) would play the same moment twice: the earlier wins.
		if len(p.segs) > 0 && s.partStartUS(s.first) < coveredUS-GapThreshold.Microseconds() {
			continue
		}
		p.segs = append(p.segs, s)
		coveredUS = s.partEndUS(s.last - 1)
	}
	if len(p.segs) == 0 {
		return nil, ErrNothingRecorded
	}
	p.timeline()
	p.ETag = p.etag(recs)
	return p, nil
}

// pick decodes one recording's index and selects its parts overlapping
// [fromUS, toUS), starting at a part that begins with a keyframe.
func pick(r *db.IndexedRecording, fromUS, toUS int64) (*segment, error) {
	parts, err := record.DecodeParts(r.Index.Parts, r.Index.InitSize)
	if err != nil {
		return nil, fmt.Errorf("recording %d: %w", r.Index.RecordingID, err)
	}
	s := &segment{id: r.Index.RecordingID, path: r.FilePath, startUS: r.Index.StartUS, parts: parts, first: -1}
	for i := range parts {
		if s.partEndUS(i) > fromUS && s.partStartUS(i) < toUS {
			if s.first < 0 {
				s.first = i
			}
			s.last = i + 1
		}
	}
	if s.first < 0 {
		return nil, nil
	}
	// A part starts with a keyframe or continues the GOP before it: step
	// back to the key part, or forward if the segment has none before.
	k := s.first
	for k > 0 && !parts[k].Key {
		k--
	}
	for k < s.last && !parts[k].Key {
		k++
	}
	if k == s.last {
		return nil, nil
	}
	s.first = k
	return s, nil
}

// timeline places every segment on the export's clock (wall time since
// the first part) and lists the gaps between them.
func (p *Plan) timeline() {
	first := p.segs[0]
	t0 := first.partStartUS(first.first)
	p.Start = time.UnixMicro(t0)
	var endUS int64 // export time after the previous segment
	for i, s := range p.segs {
		delta := s.startUS - t0
		begin := delta + s.parts[s.first].Start.Microseconds()
		if i > 0 {
			if hole := begin - endUS; hole > GapThreshold.Microseconds() {
				p.Gaps = append(p.Gaps, Gap{Start: time.UnixMicro(t0 + endUS), End: time.UnixMicro(t0 + begin)})
			} else if hole < 0 {
				delta -= hole // clocks overlapped: never let time run backwards
			}
		}
		s.deltaUS = delta
		endUS = delta + s.parts[s.last-1].Start.Microseconds() + s.parts[s.last-1].Duration.Microseconds()
		s.endUS = endUS
	}
	p.End = p.Start.Add(usDuration(endUS))
}

func usDuration(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// etag hashes what decides the output bytes: format, and for each segment
// its id, file, start and the index entries taken.
func (p *Plan) etag(recs []db.IndexedRecording) string {
	h := sha256.New()
	h.Write([]byte(p.Format))
	byID := make(map[int64]*db.IndexedRecording, len(recs))
	for i := range recs {
		byID[recs[i].Index.RecordingID] = &recs[i]
	}
	var b []byte
	for _, s := range p.segs {
		r := byID[s.id]
		b = binary.AppendVarint(b[:0], s.id)
		b = binary.AppendVarint(b, s.startUS)
		b = binary.AppendVarint(b, r.Index.InitSize)
		b = binary.AppendVarint(b, int64(s.first))
		b = binary.AppendVarint(b, int64(s.last))
		h.Write(b)
		h.Write([]byte(s.path))
		h.Write(partsPrefix(r.Index.Parts, s.last))
	}
	return `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
}

// partsPrefix is the packed index of the first n parts.
func partsPrefix(blob []byte, n int) []byte {
	off := 0
	for range 2 * n {
		_, k := binary.Uvarint(blob[off:])
		if k <= 0 {
			return blob
		}
		off += k
	}
	return blob[:off]
}
