package hls

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"lightnvr/pkg/media"
)

// partsListed is how many of the newest segments list their parts: LL-HLS
// players join near the live edge, and older parts only lengthen every
// reload.
const partsListed = 3

// playlist renders the media playlist; mu is held. One playlist serves
// both kinds of player: LL-HLS players use the EXT-X-PART tags and blocking
// reloads, older ones ignore those tags (as the HLS specification requires
// of unknown tags) and play the complete segments.
func (m *muxer) playlist() []byte {
	var b strings.Builder
	target := max(m.cfg.SegmentTarget, time.Second)
	for _, s := range m.segs {
		target = max(target, s.dur)
	}
	partTarget := max(m.cfg.PartTarget, m.maxPart)
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n", int(math.Ceil(target.Seconds())))
	fmt.Fprintf(&b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=%s\n", secs(3*partTarget))
	fmt.Fprintf(&b, "#EXT-X-PART-INF:PART-TARGET=%s\n", secs(partTarget))
	first := uint64(0)
	if len(m.segs) > 0 {
		first = m.segs[0].msn
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first)
	if m.discSeq > 0 {
		fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", m.discSeq)
	}
	var init *initSeg
	for i, s := range m.segs {
		if len(s.parts) == 0 {
			continue // just opened: nothing to announce but the preload hint
		}
		if s.disc {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if s.init != init {
			init = s.init
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"init%d.mp4\"\n", init.id)
		}
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.wall.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		if i >= len(m.segs)-partsListed {
			for j, p := range s.parts {
				fmt.Fprintf(&b, "#EXT-X-PART:DURATION=%s,URI=\"part%d.%d.m4s\"", secs(p.dur), s.msn, j)
				if p.independent {
					b.WriteString(",INDEPENDENT=YES")
				}
				b.WriteByte('\n')
			}
		}
		if s.complete {
			fmt.Fprintf(&b, "#EXTINF:%s,\nseg%d.m4s\n", secs(s.dur), s.msn)
		}
	}
	if n := len(m.segs); n > 0 {
		last := m.segs[n-1]
		msn, idx := last.msn, len(last.parts)
		if last.complete {
			msn, idx = msn+1, 0
		}
		fmt.Fprintf(&b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"part%d.%d.m4s\"\n", msn, idx)
	}
	return []byte(b.String())
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// codecsOf is the RFC 6381 codecs of the tracks, for MediaSource players
// that cannot read them from the init segment.
func codecsOf(video, audio *trackB) string {
	var cs []string
	if video != nil {
		cs = append(cs, videoCodec(video.t))
	}
	if audio != nil {
		switch audio.t.Codec {
		case media.CodecAAC:
			cs = append(cs, fmt.Sprintf("mp4a.40.%d", audio.t.AACConfig.Type))
		case media.CodecOpus:
			cs = append(cs, "opus")
		}
	}
	return strings.Join(cs, ",")
}

func videoCodec(t *media.Track) string {
	if t.Codec == media.CodecH264 {
		if len(t.SPS) >= 4 {
			return fmt.Sprintf("avc1.%02x%02x%02x", t.SPS[1], t.SPS[2], t.SPS[3])
		}
		return "avc1.640029"
	}
	var sps h265.SPS
	if err := sps.Unmarshal(t.SPS); err == nil {
		ptl := sps.ProfileTierLevel
		tier := "L"
		if ptl.GeneralTierFlag != 0 {
			tier = "H"
		}
		return fmt.Sprintf("hvc1.%d.4.%s%d.B0", ptl.GeneralProfileIdc, tier, ptl.GeneralLevelIdc)
	}
	return "hvc1.1.6.L153.B0"
}
