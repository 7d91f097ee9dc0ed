// Package loadgen is a synthetic camera farm: an RTSP server that plays N
// streams from one sample file in real time, looping with continuous
// timestamps, with faults that can be injected per stream. Tests start it
// in-process; cmd/nvr-loadgen is a thin command over it.
package loadgen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// Sample is an MPEG-TS file loaded into memory, its timestamps rebased to
// start at 0 (90 kHz).
type Sample struct {
	H265      bool
	Video     []VideoAU
	Audio     []AudioAU // AAC access units, if the file has an AAC track
	AACConfig *mpeg4audio.AudioSpecificConfig
	// Duration is the length of one loop: last video DTS + one frame.
	Duration int64
	// FrameDuration is the video frame period (90 kHz).
	FrameDuration int64
	VPS, SPS, PPS []byte
}

// VideoAU is one video access unit of the sample.
type VideoAU struct {
	PTS, DTS int64
	Key      bool
	AU       [][]byte
}

// AudioAU is one AAC access unit of the sample; PTS in 90 kHz.
type AudioAU struct {
	PTS int64
	AU  []byte
}

// LoadSample reads an MPEG-TS file with one H.264 or H.265 track and an
// optional AAC track.
func LoadSample(path string) (*Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open sample: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := &mpegts.Reader{R: bufio.NewReaderSize(f, 1<<16)}
	if err := r.Initialize(); err != nil {
		return nil, fmt.Errorf("read sample %s: %w", path, err)
	}
	s := &Sample{}
	copyAU := func(au [][]byte) [][]byte {
		out := make([][]byte, len(au))
		for i, n := range au {
			out[i] = slices.Clone(n)
		}
		return out
	}
	for _, tr := range r.Tracks() {
		switch c := tr.Codec.(type) {
		case *tscodecs.H264:
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				s.Video = append(s.Video, VideoAU{PTS: pts, DTS: dts, Key: h264.IsRandomAccess(au), AU: copyAU(au)})
				return nil
			})
		case *tscodecs.H265:
			s.H265 = true
			r.OnDataH265(tr, func(pts, dts int64, au [][]byte) error {
				s.Video = append(s.Video, VideoAU{PTS: pts, DTS: dts, Key: h265.IsRandomAccess(au), AU: copyAU(au)})
				return nil
			})
		case *tscodecs.MPEG4Audio:
			conf := c.Config
			s.AACConfig = &conf
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				for i, au := range aus {
					// 1024 samples per AAC frame, expressed in 90 kHz.
					p := pts + int64(i)*1024*90000/int64(conf.SampleRate)
					s.Audio = append(s.Audio, AudioAU{PTS: p, AU: slices.Clone(au)})
				}
				return nil
			})
		}
	}
	for {
		err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read sample %s: %w", path, err)
		}
	}
	if len(s.Video) < 2 {
		return nil, fmt.Errorf("sample %s: no video track", path)
	}
	// Start at the first keyframe and rebase to 0.
	for len(s.Video) > 0 && !s.Video[0].Key {
		s.Video = s.Video[1:]
	}
	if len(s.Video) < 2 {
		return nil, fmt.Errorf("sample %s: no keyframe", path)
	}
	base := s.Video[0].DTS
	for i := range s.Video {
		s.Video[i].PTS -= base
		s.Video[i].DTS -= base
	}
	s.FrameDuration = s.Video[1].DTS - s.Video[0].DTS
	s.Duration = s.Video[len(s.Video)-1].DTS + s.FrameDuration
	audio := s.Audio[:0]
	for _, a := range s.Audio {
		a.PTS -= base
		if a.PTS >= 0 && a.PTS < s.Duration {
			audio = append(audio, a)
		}
	}
	s.Audio = audio
	s.findParams()
	return s, nil
}

func (s *Sample) findParams() {
	for _, n := range s.Video[0].AU {
		if len(n) == 0 {
			continue
		}
		if !s.H265 {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeSPS:
				s.SPS = n
			case h264.NALUTypePPS:
				s.PPS = n
			}
			continue
		}
		switch h265.NALUType((n[0] >> 1) & 0x3f) {
		case h265.NALUType_VPS_NUT:
			s.VPS = n
		case h265.NALUType_SPS_NUT:
			s.SPS = n
		case h265.NALUType_PPS_NUT:
			s.PPS = n
		}
	}
}

// isParam reports whether n is a parameter-set NAL unit.
func isParam(h265c bool, n []byte) bool {
	if len(n) == 0 {
		return false
	}
	if !h265c {
		t := h264.NALUType(n[0] & 0x1f)
		return t == h264.NALUTypeSPS || t == h264.NALUTypePPS
	}
	t := h265.NALUType((n[0] >> 1) & 0x3f)
	return t == h265.NALUType_VPS_NUT || t == h265.NALUType_SPS_NUT || t == h265.NALUType_PPS_NUT
}
