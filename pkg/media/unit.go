// Package media ingests one RTSP stream per camera and fans its access
// units out to subscribers (recorder, live view, detection) without copying
// payloads. It knows nothing of recording or HTTP.
package media

import (
	"bytes"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Codec names a track's coding, as stored in the recordings table.
type Codec string

// Codecs handled end to end. G.711 arrives as CodecLPCM: it is decoded to
// 16-bit big-endian PCM at ingest because MP4 has no place for G.711.
const (
	CodecH264 Codec = "h264"
	CodecH265 Codec = "h265"
	CodecAAC  Codec = "aac"
	CodecOpus Codec = "opus"
	CodecLPCM Codec = "lpcm"
)

// IsVideo reports whether c is a video codec.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecH265 }

// Track describes one elementary stream. A Track is immutable once
// published: a parameter change produces a new Desc with new Tracks.
type Track struct {
	Codec     Codec
	ClockRate int // ticks per second of DTS/PTS

	// Video parameter sets (without start codes), nil until known.
	VPS, SPS, PPS []byte
	Width, Height int
	FPS           float64 // from the SPS timing info, 0 if absent

	// Audio.
	AACConfig  *mpeg4audio.AudioSpecificConfig
	SampleRate int
	Channels   int
}

// Ready reports whether the track carries everything needed to write an
// MP4 sample entry for it.
func (t *Track) Ready() bool {
	if t == nil {
		return false
	}
	switch t.Codec {
	case CodecH264:
		return len(t.SPS) > 0 && len(t.PPS) > 0
	case CodecH265:
		return len(t.VPS) > 0 && len(t.SPS) > 0 && len(t.PPS) > 0
	case CodecAAC:
		return t.AACConfig != nil
	default:
		return true
	}
}

func (t *Track) sameParams(o *Track) bool {
	if t == nil || o == nil {
		return t == o
	}
	return t.Codec == o.Codec && bytes.Equal(t.VPS, o.VPS) && bytes.Equal(t.SPS, o.SPS) &&
		bytes.Equal(t.PPS, o.PPS)
}

// Desc is the set of tracks of a stream at one point in time. Every Unit
// points to the Desc in force when it was produced, so a consumer sees a
// codec or parameter-set change as a different Desc pointer on the unit
// that carries it (for video that is always a keyframe).
type Desc struct {
	Gen   uint64 // increases with every change on the same Hub
	Video *Track // nil for audio-only streams
	Audio *Track // nil without (usable) audio
}

// Unit is one access unit. Units are shared by every subscriber and must
// be treated as read-only. A subscriber that is done with the payload
// calls Release; see frame for why.
type Unit struct {
	Desc  *Desc
	Track *Track // Desc.Video or Desc.Audio
	Seq   uint64 // per track, consecutive; a gap means a unit was lost upstream
	DTS   int64  // in Track.ClockRate ticks; equals PTS for audio
	PTS   int64
	Wall  time.Time // camera wall-clock estimate of PTS
	Key   bool      // IDR (H.264) / IRAP (H.265); always true for audio

	// Payload is the sample as stored in MP4: AVCC (4-byte lengths) for
	// video, one raw frame for audio.
	Payload []byte
	// NALUs are the video NAL units without length prefix, sub-slices of
	// Payload (no copy).
	NALUs [][]byte

	frame *frame // Payload's pooled buffer; nil when it is not pooled
}

// IsVideo reports whether the unit belongs to the video track.
func (u *Unit) IsVideo() bool { return u.Track != nil && u.Track.Codec.IsVideo() }

// Time converts ticks of this unit's clock to a duration.
func (u *Unit) Time(ticks int64) time.Duration {
	return TicksToDuration(ticks, u.Track.ClockRate)
}

// TicksToDuration converts ticks of a clock of rate Hz to a duration
// without overflowing for any realistic uptime.
func TicksToDuration(ticks int64, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	r := int64(rate)
	sec := ticks / r
	rem := ticks % r
	return time.Duration(sec)*time.Second + time.Duration(rem*int64(time.Second)/r)
}

// DurationToTicks converts a duration to ticks of a clock of rate Hz.
func DurationToTicks(d time.Duration, rate int) int64 {
	r := int64(rate)
	sec := int64(d / time.Second)
	rem := int64(d % time.Second)
	return sec*r + rem*r/int64(time.Second)
}
