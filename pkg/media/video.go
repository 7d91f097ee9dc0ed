package media

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
)

// dtsExtractor wraps the codec's extractor; it is created at a keyframe
// and dropped on any error so extraction restarts at the next keyframe.
type dtsExtractor struct {
	codec Codec
	h264  *h264.DTSExtractor
	h265  *h265.DTSExtractor

	sps, pps []byte   // the last parameter sets seen, owned
	au       [][]byte // scratch for stable
}

func (d *dtsExtractor) active() bool { return d.h264 != nil || d.h265 != nil }

func (d *dtsExtractor) reset() { d.h264, d.h265 = nil, nil }

func (d *dtsExtractor) start() {
	if d.codec == CodecH264 {
		d.h264 = &h264.DTSExtractor{}
		d.h264.Initialize()
	} else {
		d.h265 = &h265.DTSExtractor{}
		d.h265.Initialize()
	}
}

func (d *dtsExtractor) extract(au [][]byte, pts int64) (dts int64, err error) {
	au = d.stable(au)
	if d.h264 != nil {
		dts, err = d.h264.Extract(au, pts)
	} else {
		dts, err = d.h265.Extract(au, pts)
	}
	clear(au) // the scratch must not keep the frame's buffer from the collector
	return dts, err
}

// stable returns au with its parameter sets replaced by copies that outlive
// the unit. The codec's extractor keeps the last SPS (and PPS) it saw and
// compares the next ones with it; the unit's own lie in a pooled buffer that
// the next frames overwrite, and a "changed" SPS resets its reordering
// state at every keyframe.
func (d *dtsExtractor) stable(au [][]byte) [][]byte {
	d.au = append(d.au[:0], au...)
	for i, n := range d.au {
		if len(n) == 0 {
			continue
		}
		var p *[]byte
		if d.codec == CodecH264 {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				p = &d.sps
			case h264.NALUTypePPS:
				p = &d.pps
			}
		} else {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_SPS_NUT:
				p = &d.sps
			case h265.NALUType_PPS_NUT:
				p = &d.pps
			}
		}
		if p == nil {
			continue
		}
		if !bytes.Equal(*p, n) {
			*p = bytes.Clone(n)
		}
		d.au[i] = *p
	}
	return d.au
}

// setVideoParams stores copies of the parameter sets and what the SPS says
// about the picture. An SPS that does not parse leaves size 0.
func setVideoParams(t *Track, vps, sps, pps []byte) {
	t.VPS = clone(vps)
	t.SPS = clone(sps)
	t.PPS = clone(pps)
	t.Width, t.Height, t.FPS = picture(t.Codec, sps)
}

// picture is what an SPS says about the picture: size and frame rate, 0
// when it is missing or does not parse.
func picture(c Codec, sps []byte) (w, h int, fps float64) {
	if len(sps) == 0 {
		return 0, 0, 0
	}
	switch c {
	case CodecH264:
		var p h264.SPS
		if p.Unmarshal(sps) == nil {
			return p.Width(), p.Height(), p.FPS()
		}
	case CodecH265:
		var p h265.SPS
		if p.Unmarshal(sps) == nil {
			return p.Width(), p.Height(), p.FPS()
		}
	}
	return 0, 0, 0
}

// FormatPicture is the picture size and frame rate a track list states
// for a video format (from the SPS it carries), 0 when it states none.
func FormatPicture(f format.Format) (w, h int, fps float64) {
	switch f := f.(type) {
	case *format.H264:
		return picture(CodecH264, f.SPS)
	case *format.H265:
		return picture(CodecH265, f.SPS)
	}
	return 0, 0, 0
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// params returns the parameter sets present in au.
func params(codec Codec, au [][]byte) (vps, sps, pps []byte) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if codec == CodecH264 {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				sps = n
			case h264.NALUTypePPS:
				pps = n
			}
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			vps = n
		case h265.NALUType_SPS_NUT:
			sps = n
		case h265.NALUType_PPS_NUT:
			pps = n
		}
	}
	return
}

func isKey(codec Codec, au [][]byte) bool {
	if codec == CodecH264 {
		return h264.IsRandomAccess(au)
	}
	return h265.IsRandomAccess(au)
}

// video handles one reassembled video access unit. Called with s.mu held.
func (ing *ingest) video(au [][]byte, pts int64, now time.Time) {
	cur := ing.desc.Video
	codec := cur.Codec

	// In-band parameter sets: a change means a new description, which
	// consumers see on this (key)frame and use to start a new segment.
	vps, sps, pps := params(codec, au)
	if (sps != nil && !bytes.Equal(sps, cur.SPS)) || (pps != nil && !bytes.Equal(pps, cur.PPS)) ||
		(vps != nil && !bytes.Equal(vps, cur.VPS)) {
		nt := *cur
		if vps == nil {
			vps = cur.VPS
		}
		if sps == nil {
			sps = cur.SPS
		}
		if pps == nil {
			pps = cur.PPS
		}
		setVideoParams(&nt, vps, sps, pps)
		if !nt.sameParams(cur) {
			ing.desc = ing.s.cfg.Hub.SetDesc(&Desc{Video: &nt, Audio: ing.desc.Audio})
			cur = &nt
		}
	}

	key := isKey(codec, au)
	if ing.resync {
		if !key {
			ing.s.stats.skipped++
			return
		}
		ing.resync = false
		ing.dts.reset()
	}
	if key && cur.Ready() && (sps == nil || pps == nil || (codec == CodecH265 && vps == nil)) {
		// Make every keyframe self-contained (the DTS extractor needs the
		// SPS, and a recording may start at any keyframe).
		pre := [][]byte{cur.SPS, cur.PPS}
		if codec == CodecH265 {
			pre = [][]byte{cur.VPS, cur.SPS, cur.PPS}
		}
		au = append(pre, au...)
	}
	if !ing.dts.active() {
		if !key || !cur.Ready() {
			ing.s.stats.skipped++
			return
		}
		ing.dts.start()
	}
	// The extractor reads the frame's NAL units; what it keeps of them (the
	// parameter sets) it gets as copies from stable.
	f := packAVCC(au)
	dts, err := ing.dts.extract(f.nalus, pts)
	if err != nil {
		f.release()
		ing.s.stats.skipped++
		ing.s.stats.dtsErrors++
		if ing.s.stats.dtsErrors == 1 || ing.s.stats.dtsErrors%100 == 0 {
			ing.s.log.Warn("cannot compute DTS, waiting for next keyframe", "err", err, "count", ing.s.stats.dtsErrors)
		}
		ing.dts.reset()
		return
	}

	t := TicksToDuration(dts, cur.ClockRate)
	if !ing.anchored {
		ing.anchor(t, now)
	}
	off := DurationToTicks(ing.offset, cur.ClockRate)
	ing.videoSeq++
	u := &Unit{Desc: ing.desc, Track: cur, Seq: ing.videoSeq, DTS: dts + off, PTS: pts + off,
		Wall: ing.wall(t), Key: key, Payload: f.buf, NALUs: f.nalus, frame: f}
	f.owner = u
	ing.publish(u, t, now)
	u.Release() // ingest's own reference; the subscribers hold theirs
}

// packAVCC packs au into one length-prefixed buffer taken from the frame pool,
// with sub-slices of it for each NAL unit: the single copy of the frame
// made at ingest. The frame carries the caller's reference.
func packAVCC(au [][]byte) *frame {
	n := 0
	for _, x := range au {
		n += 4 + len(x)
	}
	f := getFrame(n)
	buf, pos := f.buf, 0
	for _, x := range au {
		binary.BigEndian.PutUint32(buf[pos:], uint32(len(x)))
		pos += 4
		copy(buf[pos:], x)
		f.nalus = append(f.nalus, buf[pos:pos+len(x):pos+len(x)])
		pos += len(x)
	}
	return f
}
