package record

import (
	"encoding/binary"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// PartTrack is one track's samples of a part, for AppendPart.
type PartTrack struct {
	ID      int
	Base    int64 // decode time of the first sample, in the track's timescale
	Samples []fmp4.Sample
}

// AppendPart appends to buf the moof+mdat of one part of at most two tracks,
// exactly as the recorder writes its parts, so live HLS serves the same parts.
func AppendPart(buf []byte, seq uint32, tracks ...PartTrack) []byte {
	var tws [2]trackW
	var ptrs [2]*trackW
	n := min(len(tracks), len(tws))
	for i := range n {
		tws[i] = trackW{id: tracks[i].ID, partBase: tracks[i].Base, samples: tracks[i].Samples}
		ptrs[i] = &tws[i]
	}
	return appendPart(buf, seq, ptrs[:n])
}

// appendPart appends one moof+mdat for tracks to buf, in the layout
// mediacommon's fmp4.Part.Marshal writes (tfhd default-base-is-moof, tfdt
// v1, trun v1 with per-sample duration and size), without its reflection-
// based marshalling: no allocation once buf has grown to a part's size.
func appendPart(buf []byte, seq uint32, tracks []*trackW) []byte {
	buf = appendMoof(buf, seq, tracks)
	for _, tw := range tracks {
		for j := range tw.samples {
			buf = append(buf, tw.samples[j].Payload...)
		}
	}
	return buf
}

// appendMoof appends the part's moof and its mdat header: the samples'
// payloads follow in track order. The recorder writes them from its part
// buffer (writev), so a part is never copied into one piece with its moof.
func appendMoof(buf []byte, seq uint32, tracks []*trackW) []byte {
	be := binary.BigEndian
	start := len(buf)
	buf = be.AppendUint32(buf, 0) // moof size, patched below
	buf = append(buf, "moof"...)
	buf = be.AppendUint32(buf, 16)
	buf = append(buf, "mfhd"...)
	buf = be.AppendUint32(buf, 0)
	buf = be.AppendUint32(buf, seq)

	var offPos [2]int
	for i, tw := range tracks {
		flags := uint32(0x1 | 0x100 | 0x200)
		for j := range tw.samples {
			if tw.samples[j].IsNonSyncSample {
				flags |= 0x400
			}
			if tw.samples[j].PTSOffset != 0 {
				flags |= 0x800
			}
		}
		entry := 8
		if flags&0x400 != 0 {
			entry += 4
		}
		if flags&0x800 != 0 {
			entry += 4
		}
		n := len(tw.samples)
		trunSize := 8 + 4 + 4 + 4 + n*entry
		trafSize := 8 + 16 + 20 + trunSize
		buf = be.AppendUint32(buf, uint32(trafSize))
		buf = append(buf, "traf"...)
		buf = be.AppendUint32(buf, 16)
		buf = append(buf, "tfhd"...)
		buf = be.AppendUint32(buf, 0x020000) // default-base-is-moof
		buf = be.AppendUint32(buf, uint32(tw.id))
		buf = be.AppendUint32(buf, 20)
		buf = append(buf, "tfdt"...)
		buf = be.AppendUint32(buf, 1<<24) // version 1
		buf = be.AppendUint64(buf, uint64(tw.partBase))
		buf = be.AppendUint32(buf, uint32(trunSize))
		buf = append(buf, "trun"...)
		buf = be.AppendUint32(buf, 1<<24|flags)
		buf = be.AppendUint32(buf, uint32(n))
		offPos[i] = len(buf)
		buf = be.AppendUint32(buf, 0) // data offset, patched below
		for j := range tw.samples {
			s := &tw.samples[j]
			buf = be.AppendUint32(buf, s.Duration)
			buf = be.AppendUint32(buf, uint32(len(s.Payload)))
			if flags&0x400 != 0 {
				var f uint32
				if s.IsNonSyncSample {
					f = 1 << 16
				}
				buf = be.AppendUint32(buf, f)
			}
			if flags&0x800 != 0 {
				buf = be.AppendUint32(buf, uint32(s.PTSOffset))
			}
		}
	}
	moofSize := len(buf) - start
	be.PutUint32(buf[start:], uint32(moofSize))

	dataSize := 0
	for _, tw := range tracks {
		for j := range tw.samples {
			dataSize += len(tw.samples[j].Payload)
		}
	}
	buf = be.AppendUint32(buf, uint32(8+dataSize))
	buf = append(buf, "mdat"...)
	off := moofSize + 8
	for i, tw := range tracks {
		be.PutUint32(buf[offPos[i]:], uint32(off))
		for j := range tw.samples {
			off += len(tw.samples[j].Payload)
		}
	}
	return buf
}
