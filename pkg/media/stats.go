package media

import "time"

// Stats is a snapshot of one stream's ingest.
type Stats struct {
	State      SourceState
	LastError  string
	Codec      Codec
	Width      int
	Height     int
	FPS        float64   // measured over the last full second
	Bitrate    float64   // bits per second over the last full second, all tracks
	Frames     uint64    // video units published (audio units for audio-only streams)
	Bytes      uint64    // payload bytes published
	Drops      uint64    // units lost: by slow subscribers, to lost packets, or skipped until a keyframe
	Reconnects uint64    // sessions lost after they delivered media
	LastFrame  time.Time // local time of the last published unit, zero if none
}

type statCounter struct {
	frames, bytes      uint64
	lost, skipped      uint64
	dtsErrors          uint64
	lastFrame          time.Time
	winStart           time.Time
	winFrames, winBits uint64
	fps, bitrate       float64
}

func (c *statCounter) add(u *Unit, now time.Time) {
	video := u.IsVideo()
	if video || u.Desc.Video == nil {
		c.frames++
		c.winFrames++
	}
	c.bytes += uint64(len(u.Payload))
	c.winBits += uint64(len(u.Payload)) * 8
	c.lastFrame = now
	if c.winStart.IsZero() {
		c.winStart = now
		return
	}
	if el := now.Sub(c.winStart); el >= time.Second {
		c.fps = float64(c.winFrames) / el.Seconds()
		c.bitrate = float64(c.winBits) / el.Seconds()
		c.winStart, c.winFrames, c.winBits = now, 0, 0
	}
}

// Stats returns a snapshot of the stream's counters.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		State:      s.state,
		Frames:     s.stats.frames,
		Bytes:      s.stats.bytes,
		Drops:      s.stats.lost + s.stats.skipped + s.cfg.Hub.Dropped(),
		Reconnects: s.reconnects,
		LastFrame:  s.stats.lastFrame,
		FPS:        s.stats.fps,
		Bitrate:    s.stats.bitrate,
	}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	if d := s.cfg.Hub.Desc(); d != nil {
		if d.Video != nil {
			st.Codec, st.Width, st.Height = d.Video.Codec, d.Video.Width, d.Video.Height
		} else if d.Audio != nil {
			st.Codec = d.Audio.Codec
		}
	}
	// A stream that went silent has no rate, whatever the last window said.
	if !st.LastFrame.IsZero() && time.Since(st.LastFrame) > 2*time.Second {
		st.FPS, st.Bitrate = 0, 0
	}
	return st
}
