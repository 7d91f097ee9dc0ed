package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/pion/rtp"
)

// SourceConfig configures one stream's ingest.
type SourceConfig struct {
	Name string // stream name, for logs
	URL  string // rtsp://…
	Hub  *Hub   // where units go; required
	// NoAudio skips the audio track (streams.record_audio = 0).
	NoAudio bool
	Logger  *slog.Logger
	// Reconnect backoff bounds; defaults 500 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// ReadTimeout bounds silence before a session is declared dead;
	// default 10 s.
	ReadTimeout time.Duration
}

// Source keeps one RTSP session (TCP) open to a stream, reconnecting with
// exponential backoff, and publishes its access units to a Hub.
type Source struct {
	cfg SourceConfig
	log *slog.Logger

	mu         sync.Mutex // guards the fields below and every ingest step
	state      string
	lastErr    error
	reconnects uint64
	started    bool
	audioWarn  bool
	ing        *ingest
	cont       continuity
	stats      statCounter
}

// continuity carries the stream timeline across sessions so DTS keeps
// increasing after a reconnect.
type continuity struct {
	valid    bool
	lastT    time.Duration // stream time of the last unit
	lastRecv time.Time     // local time it was received
}

// NewSource returns a stopped source; call Run.
func NewSource(cfg SourceConfig) *Source {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, log: cfg.Logger.With("stream", cfg.Name), state: "stopped"}
}

// Hub returns the hub units are published to.
func (s *Source) Hub() *Hub { return s.cfg.Hub }

// Run ingests until ctx is cancelled, reconnecting after every failure. It
// returns ctx's error.
func (s *Source) Run(ctx context.Context) error {
	backoff := s.cfg.MinBackoff
	for {
		s.setState("connecting", nil)
		delivered, err := s.session(ctx)
		if ctx.Err() != nil {
			s.setState("stopped", nil)
			return ctx.Err()
		}
		if delivered {
			backoff = s.cfg.MinBackoff
		}
		s.mu.Lock()
		s.reconnects++
		s.mu.Unlock()
		s.setState("reconnecting", err)
		s.log.Warn("stream session ended", "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.setState("stopped", nil)
			return ctx.Err()
		case <-t.C:
		}
		backoff *= 2
		if backoff > s.cfg.MaxBackoff {
			backoff = s.cfg.MaxBackoff
		}
	}
}

func (s *Source) setState(st string, err error) {
	s.mu.Lock()
	s.state = st
	if err != nil {
		s.lastErr = err
	}
	s.mu.Unlock()
}

// session runs one RTSP session to its end. delivered reports whether at
// least one keyframe came through (which resets the backoff).
func (s *Source) session(ctx context.Context) (delivered bool, err error) {
	u, err := base.ParseURL(s.cfg.URL)
	if err != nil {
		return false, fmt.Errorf("parse url: %w", err)
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		Protocol:    &tcp,
		ReadTimeout: s.cfg.ReadTimeout,
		UserAgent:   "lightnvr",
	}
	if err := c.Start(); err != nil {
		return false, fmt.Errorf("connect %s: %w", u.Host, err)
	}
	stop := context.AfterFunc(ctx, c.Close)
	defer func() {
		stop()
		c.Close()
	}()

	desc, _, err := c.Describe(u)
	if err != nil {
		return false, fmt.Errorf("describe: %w", err)
	}
	ing, medias, err := s.newIngest(desc)
	if err != nil {
		return false, err
	}
	for _, m := range medias {
		if _, err := c.Setup(desc.BaseURL, m, 0, 0); err != nil {
			return false, fmt.Errorf("setup: %w", err)
		}
	}
	ing.register(c)
	c.OnPacketsLost = func(lost uint64) { s.lost(lost) }
	c.OnDecodeError = func(error) { s.lost(1) }

	s.mu.Lock()
	s.ing = ing
	s.cont.valid = s.cont.valid || s.started
	s.mu.Unlock()

	if _, err := c.Play(nil); err != nil {
		return false, fmt.Errorf("play: %w", err)
	}
	s.setState("playing", nil)
	err = c.Wait()

	s.mu.Lock()
	delivered = ing.anchored
	s.ing = nil
	s.mu.Unlock()
	if err == nil {
		err = errors.New("session closed")
	}
	return delivered, err
}

func (s *Source) lost(n uint64) {
	s.mu.Lock()
	s.stats.lost += n
	if s.ing != nil {
		// A lost packet corrupts the access unit in flight and every
		// frame predicted from it: resume at the next keyframe.
		s.ing.resync = true
	}
	s.mu.Unlock()
}

// ingest is the per-session state.
type ingest struct {
	s    *Source
	desc *Desc

	videoMedia  *description.Media
	videoFormat format.Format
	h264Dec     *rtph264.Decoder
	h265Dec     *rtph265.Decoder
	dts         dtsExtractor
	resync      bool

	audioMedia  *description.Media
	audioFormat format.Format
	audioDec    func(*rtp.Packet) ([][]byte, error)
	g711MuLaw   bool

	anchored   bool
	anchorT    time.Duration // session media time of the anchor keyframe
	anchorWall time.Time
	offset     time.Duration // session media time → stream time

	videoSeq, audioSeq uint64
}

func (s *Source) newIngest(desc *description.Session) (*ingest, []*description.Media, error) {
	ing := &ingest{s: s}
	d := &Desc{}
	var medias []*description.Media

	var h264f *format.H264
	var h265f *format.H265
	if m := desc.FindFormat(&h264f); m != nil {
		dec, err := h264f.CreateDecoder()
		if err != nil {
			return nil, nil, fmt.Errorf("h264 decoder: %w", err)
		}
		sps, pps := h264f.SafeParams()
		d.Video = &Track{Codec: CodecH264, ClockRate: h264f.ClockRate()}
		setVideoParams(d.Video, nil, sps, pps)
		ing.videoMedia, ing.videoFormat, ing.h264Dec = m, h264f, dec
		medias = append(medias, m)
	} else if m := desc.FindFormat(&h265f); m != nil {
		dec, err := h265f.CreateDecoder()
		if err != nil {
			return nil, nil, fmt.Errorf("h265 decoder: %w", err)
		}
		vps, sps, pps := h265f.SafeParams()
		d.Video = &Track{Codec: CodecH265, ClockRate: h265f.ClockRate()}
		setVideoParams(d.Video, vps, sps, pps)
		ing.videoMedia, ing.videoFormat, ing.h265Dec = m, h265f, dec
		medias = append(medias, m)
	}

	if !s.cfg.NoAudio {
		if err := ing.pickAudio(desc, d); err != nil {
			return nil, nil, err
		}
		if ing.audioMedia != nil && (ing.videoMedia == nil || ing.audioMedia != ing.videoMedia) {
			medias = append(medias, ing.audioMedia)
		}
	}
	if d.Video == nil && d.Audio == nil {
		return nil, nil, errors.New("stream has no supported track (want H.264/H.265, AAC, Opus or G.711)")
	}
	if d.Video != nil {
		ing.dts.codec = d.Video.Codec
	}
	s.mu.Lock()
	ing.desc = s.cfg.Hub.SetDesc(d)
	s.mu.Unlock()
	return ing, medias, nil
}

func (ing *ingest) pickAudio(desc *description.Session, d *Desc) error {
	var aac *format.MPEG4Audio
	var opus *format.Opus
	var g *format.G711
	switch {
	case desc.FindFormat(&aac) != nil && aac.Config != nil:
		m := desc.FindFormat(&aac)
		dec, err := aac.CreateDecoder()
		if err != nil {
			return fmt.Errorf("aac decoder: %w", err)
		}
		d.Audio = &Track{Codec: CodecAAC, ClockRate: aac.ClockRate(), AACConfig: aac.Config,
			SampleRate: aac.Config.SampleRate, Channels: aac.Config.ChannelCount}
		ing.audioMedia, ing.audioFormat, ing.audioDec = m, aac, dec.Decode
	case desc.FindFormat(&opus) != nil:
		m := desc.FindFormat(&opus)
		dec, err := opus.CreateDecoder()
		if err != nil {
			return fmt.Errorf("opus decoder: %w", err)
		}
		d.Audio = &Track{Codec: CodecOpus, ClockRate: opus.ClockRate(), SampleRate: 48000, Channels: opus.ChannelCount}
		ing.audioMedia, ing.audioFormat = m, opus
		ing.audioDec = func(p *rtp.Packet) ([][]byte, error) {
			f, err := dec.Decode(p)
			if err != nil {
				return nil, err
			}
			return [][]byte{f}, nil
		}
	case desc.FindFormat(&g) != nil:
		m := desc.FindFormat(&g)
		dec, err := g.CreateDecoder()
		if err != nil {
			return fmt.Errorf("g711 decoder: %w", err)
		}
		d.Audio = &Track{Codec: CodecLPCM, ClockRate: g.ClockRate(), SampleRate: g.SampleRate, Channels: g.ChannelCount}
		ing.audioMedia, ing.audioFormat, ing.g711MuLaw = m, g, g.MULaw
		ing.audioDec = func(p *rtp.Packet) ([][]byte, error) {
			f, err := dec.Decode(p)
			if err != nil {
				return nil, err
			}
			return [][]byte{f}, nil
		}
	default:
		for _, m := range desc.Medias {
			if m.Type == description.MediaTypeAudio {
				// One line per source, never more: an unsupported audio
				// track is ignored, video goes on.
				if !ing.s.audioWarn {
					ing.s.audioWarn = true
					ing.s.log.Info("audio track not supported, ignored", "codec", m.Formats[0].Codec())
				}
				break
			}
		}
	}
	return nil
}

func (ing *ingest) register(c *gortsplib.Client) {
	if ing.videoMedia != nil {
		m := ing.videoMedia
		c.OnPacketRTP(m, ing.videoFormat, func(p *rtp.Packet) {
			pts, ok := c.PacketPTS(m, p)
			if !ok {
				return
			}
			var au [][]byte
			var err error
			if ing.h264Dec != nil {
				au, err = ing.h264Dec.Decode(p)
			} else {
				au, err = ing.h265Dec.Decode(p)
			}
			if err != nil || len(au) == 0 {
				return // fragment in progress or broken: the decoder already discarded it
			}
			ing.s.mu.Lock()
			ing.video(au, pts, time.Now())
			ing.s.mu.Unlock()
		})
	}
	if ing.audioMedia != nil {
		m := ing.audioMedia
		c.OnPacketRTP(m, ing.audioFormat, func(p *rtp.Packet) {
			pts, ok := c.PacketPTS(m, p)
			if !ok {
				return
			}
			aus, err := ing.audioDec(p)
			if err != nil || len(aus) == 0 {
				return
			}
			ing.s.mu.Lock()
			ing.audio(aus, pts, time.Now())
			ing.s.mu.Unlock()
		})
	}
}

// anchor fixes the mapping from session media time to wall clock and to
// the stream timeline at the first keyframe (or first audio frame of an
// audio-only stream). Cameras behind go2rtc send no RTCP sender reports,
// so the local receive time is the best wall-clock estimate there is.
func (ing *ingest) anchor(t time.Duration, now time.Time) {
	s := ing.s
	ing.anchored = true
	ing.anchorT = t
	ing.anchorWall = now
	if s.cont.valid {
		gap := now.Sub(s.cont.lastRecv)
		if gap < 0 {
			gap = 0
		}
		ing.offset = s.cont.lastT + gap - t
	} else {
		ing.offset = -t
	}
	s.started = true
}

func (ing *ingest) wall(t time.Duration) time.Time { return ing.anchorWall.Add(t - ing.anchorT) }

func (ing *ingest) publish(u *Unit, t time.Duration, now time.Time) {
	s := ing.s
	s.cont.lastT = t + ing.offset
	s.cont.lastRecv = now
	s.stats.add(u, now)
	s.cfg.Hub.Publish(u)
}

func (ing *ingest) audio(aus [][]byte, pts int64, now time.Time) {
	tr := ing.desc.Audio
	if tr == nil {
		return
	}
	if !ing.anchored {
		if ing.desc.Video != nil {
			return // wait for the video anchor so both tracks share one timeline
		}
		ing.anchor(TicksToDuration(pts, tr.ClockRate), now)
	}
	off := DurationToTicks(ing.offset, tr.ClockRate)
	for i, au := range aus {
		p := pts
		switch tr.Codec {
		case CodecAAC:
			p = pts + int64(i)*1024
		case CodecLPCM:
			var pcm []byte
			if ing.g711MuLaw {
				var m g711.Mulaw
				m.Unmarshal(au)
				pcm = m
			} else {
				var a g711.Alaw
				a.Unmarshal(au)
				pcm = a
			}
			au = pcm
		}
		t := TicksToDuration(p, tr.ClockRate)
		ing.audioSeq++
		u := &Unit{Desc: ing.desc, Track: tr, Seq: ing.audioSeq, DTS: p + off, PTS: p + off,
			Wall: ing.wall(t), Key: true, Payload: au}
		ing.publish(u, t, now)
	}
}
