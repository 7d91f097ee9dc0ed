package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/pion/rtp"

	"lightnvr/pkg/backoff"
)

// SourceState is where a Source is in its connection cycle.
type SourceState uint8

// Source states. Playing means media flows: it is entered at the first unit
// a session publishes, not when the server accepts PLAY.
const (
	SourceStopped SourceState = iota
	SourceConnecting
	SourcePlaying
	SourceReconnecting
)

var sourceStateNames = [...]string{
	SourceStopped:      "stopped",
	SourceConnecting:   "connecting",
	SourcePlaying:      "playing",
	SourceReconnecting: "reconnecting",
}

func (st SourceState) String() string {
	if int(st) < len(sourceStateNames) {
		return sourceStateNames[st]
	}
	return fmt.Sprintf("SourceState(%d)", st)
}

// MarshalText keeps the state's name in JSON and logs.
func (st SourceState) MarshalText() ([]byte, error) { return []byte(st.String()), nil }

// SourceConfig configures one stream's ingest.
type SourceConfig struct {
	Name string // stream name, for logs
	URL  string // rtsp://…
	Hub  *Hub   // where units go; required
	// NoAudio skips the audio track (streams.record_audio = 0).
	NoAudio bool
	Logger  *slog.Logger
	// Backoff bounds the wait between connection attempts (500 ms to 30 s).
	Backoff backoff.Backoff
	// ReadTimeout bounds silence before a session is declared dead, both
	// on the wire and in published units; default 10 s.
	ReadTimeout time.Duration
	// OnState, when set, is told every change of state with the error that
	// caused it, in order, from the source's goroutines and without its
	// lock held. It must not block.
	OnState func(SourceState, error)
	// ReadPace, when above 0, reads the playing session about once per
	// beat of ReadPace instead of as each packet arrives, so the process
	// wakes once a beat, not once a frame per stream: with several paced
	// sources their beats line up; a source paced alone is woken by the
	// kernel once 300 ms of its data has queued (see sockReader).
	// Units reach subscribers about ReadPace late (300 ms alone); after a
	// stream's rate falls, up to 2 s late until its reader has measured
	// the new rate.
	ReadPace time.Duration
}

// Source keeps one RTSP session (TCP) open to a stream, reconnecting with
// exponential backoff, and publishes its access units to a Hub. It is the
// only owner of reconnecting: its users watch its state, they never restart it.
type Source struct {
	cfg SourceConfig
	log *slog.Logger

	stateMu sync.Mutex // orders OnState calls; taken before mu, never under it

	mu         sync.Mutex // guards the fields below and every ingest step
	state      SourceState
	lastErr    error
	reconnects uint64
	wake       context.CancelFunc // cuts the current backoff wait short
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
	cfg.Backoff = cfg.Backoff.Or(backoff.Backoff{Min: 500 * time.Millisecond, Max: 30 * time.Second})
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Source{cfg: cfg, log: cfg.Logger.With("stream", cfg.Name)}
}

// Hub returns the hub units are published to.
func (s *Source) Hub() *Hub { return s.cfg.Hub }

// Run ingests until ctx is cancelled, reconnecting after every failure. It
// returns ctx's error.
func (s *Source) Run(ctx context.Context) error {
	wait := s.cfg.Backoff
	defer s.setState(SourceStopped, nil)
	for {
		s.setState(SourceConnecting, nil)
		delivered, err := s.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if delivered {
			// One reconnect per lost session, however many attempts it takes.
			wait.Reset()
			s.mu.Lock()
			s.reconnects++
			s.mu.Unlock()
		}
		s.setState(SourceReconnecting, err)
		d := wait.Next()
		s.log.Warn("stream session ended", "err", err, "retry_in", d)
		wctx, cancel := context.WithTimeout(ctx, d)
		s.mu.Lock()
		s.wake = cancel
		s.mu.Unlock()
		<-wctx.Done()
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// Wake ends a wait between attempts now: the caller knows the server is
// back (go2rtc restarted), so the backoff would only add downtime.
func (s *Source) Wake() {
	s.mu.Lock()
	if s.wake != nil {
		s.wake()
	}
	s.mu.Unlock()
}

func (s *Source) setState(st SourceState, err error) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	s.mu.Lock()
	changed := s.state != st
	s.state = st
	if err != nil {
		s.lastErr = err
	}
	s.mu.Unlock()
	if changed && s.cfg.OnState != nil {
		s.cfg.OnState(st, err)
	}
}

// session runs one RTSP session to its end. delivered reports whether at
// least one unit came through (which resets the backoff).
func (s *Source) session(ctx context.Context) (delivered bool, err error) {
	sess, err := dialSession(ctx, s.cfg.URL, "lightnvr", s.cfg.ReadTimeout)
	if err != nil {
		return false, err
	}
	defer sess.Close()
	ing, medias, err := s.newIngest(sess.desc)
	if err != nil {
		return false, err
	}
	for i, m := range medias {
		ch, err := sess.setup(m, i)
		if err != nil {
			return false, err
		}
		ing.bind(ch, m)
	}

	s.mu.Lock()
	s.ing = ing
	s.cont.valid = s.cont.valid || s.started
	s.mu.Unlock()

	if err := sess.play(); err != nil {
		return false, err
	}
	sess.pace(s.cfg.ReadPace)
	stalled := s.watchStall(sess.abort)
	err = ing.read(sess)
	if e := stalled(); e != nil {
		err = e
	}

	s.mu.Lock()
	delivered = ing.anchored
	s.ing = nil
	s.mu.Unlock()
	return delivered, err
}

// watchStall ends the session when it publishes nothing for ReadTimeout
// although packets arrive (so the wire timeout never fires): a stream that
// only skips frames is as dead as a silent one. The returned func, called
// once the session ended, stops the watch and says whether it ended it.
func (s *Source) watchStall(abort func()) func() error {
	done := make(chan struct{})
	why := make(chan error, 1)
	since := time.Now()
	go func() {
		// One wake per ReadTimeout while frames come, not a tick a second:
		// the timer is set for when the newest frame would be too old.
		t := time.NewTimer(s.cfg.ReadTimeout)
		defer t.Stop()
		for {
			select {
			case <-done:
				why <- nil
				return
			case <-t.C:
			}
			s.mu.Lock()
			last := s.stats.lastFrame
			s.mu.Unlock()
			if last.Before(since) {
				last = since
			}
			if left := s.cfg.ReadTimeout - time.Since(last); left > 0 {
				t.Reset(left + time.Millisecond)
				continue
			}
			abort()
			<-done
			why <- fmt.Errorf("no media for %s", s.cfg.ReadTimeout)
			return
		}
	}()
	return func() error {
		close(done)
		return <-why
	}
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
	videoDec    func(*rtp.Packet) ([][]byte, error)
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

	chans []*rtpChannel
}

func (s *Source) newIngest(desc *description.Session) (*ingest, []*description.Media, error) {
	ing := &ingest{s: s}
	d := &Desc{}
	var medias []*description.Media

	var h264f *format.H264
	var h265f *format.H265
	if m := desc.FindFormat(&h264f); m != nil {
		if h264f.PacketizationMode > 1 {
			return nil, nil, fmt.Errorf("h264: packetization mode %d not supported", h264f.PacketizationMode)
		}
		dec := newDepacketizer(CodecH264)
		sps, pps := h264f.SPS, h264f.PPS
		d.Video = &Track{Codec: CodecH264, ClockRate: h264f.ClockRate()}
		setVideoParams(d.Video, nil, sps, pps)
		ing.videoMedia, ing.videoFormat, ing.videoDec = m, h264f, dec.Decode
		medias = append(medias, m)
	} else if m := desc.FindFormat(&h265f); m != nil {
		if h265f.MaxDONDiff != 0 {
			return nil, nil, errors.New("h265: decoding order numbers (sprop-max-don-diff) not supported")
		}
		dec := newDepacketizer(CodecH265)
		vps, sps, pps := h265f.VPS, h265f.SPS, h265f.PPS
		d.Video = &Track{Codec: CodecH265, ClockRate: h265f.ClockRate()}
		setVideoParams(d.Video, vps, sps, pps)
		ing.videoMedia, ing.videoFormat, ing.videoDec = m, h265f, dec.Decode
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
			SampleRate: aac.Config.SampleRate, Channels: AACChannels(aac.Config)}
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
					ing.s.log.Info("audio track not supported, ignored", "codec", FormatName(m.Formats[0]))
				}
				break
			}
		}
	}
	return nil
}

// rtpChannel is one interleaved channel's RTP: the formats set up on it
// and where its sequence numbers are.
type rtpChannel struct {
	id      int
	formats []*rtpFormat
	pkt     rtp.Packet // reused: its payload lies in the session's read buffer
	next    uint16
	seen    bool
}

// rtpFormat is what one format's packets go through.
type rtpFormat struct {
	format format.Format
	decode func(*rtp.Packet) ([][]byte, error)
	handle func([][]byte, int64, time.Time)
	time   trackTime
	// own: the decoder's units point into the packet and go to subscribers
	// as they are (audio), so the packet gets a buffer of its own first.
	own bool
}

// bind routes the packets arriving on channel ch to m's formats.
func (ing *ingest) bind(ch int, m *description.Media) {
	c := &rtpChannel{id: ch}
	if m == ing.videoMedia {
		c.formats = append(c.formats, &rtpFormat{format: ing.videoFormat, decode: ing.videoDec, handle: ing.video})
	}
	if m == ing.audioMedia {
		c.formats = append(c.formats, &rtpFormat{format: ing.audioFormat, decode: ing.audioDec, handle: ing.audio, own: true})
	}
	ing.chans = append(ing.chans, c)
}

// read feeds the session's packets to the decoders until the session
// fails, and the access units they reassemble to their handlers under the
// source lock; the session's first published unit makes the source
// playing.
func (ing *ingest) read(sess *session) error {
	s := ing.s
	var times timeline
	for {
		id, b, err := sess.readFrame()
		if err != nil {
			return err
		}
		var c *rtpChannel
		for _, x := range ing.chans {
			if x.id == id {
				c = x
			}
		}
		if c == nil {
			continue // RTCP, or a channel we did not ask for
		}
		p := &c.pkt
		if err := p.Unmarshal(b); err != nil {
			s.lost(1)
			continue
		}
		if gap := p.SequenceNumber - c.next; c.seen && gap != 0 && gap < 0x8000 {
			s.lost(uint64(gap))
		}
		c.seen, c.next = true, p.SequenceNumber+1
		var f *rtpFormat
		for _, x := range c.formats {
			if x.format.PayloadType() == p.PayloadType {
				f = x
			}
		}
		if f == nil {
			continue
		}
		pts, ok := times.decode(&f.time, f.format, p)
		if !ok {
			continue // before the track's first unit that can start it
		}
		if f.own {
			p.Payload = bytes.Clone(p.Payload)
		}
		aus, err := f.decode(p)
		if err != nil || len(aus) == 0 {
			continue // fragment in progress or broken: the decoder already discarded it
		}
		s.mu.Lock()
		was := ing.anchored
		f.handle(aus, pts, time.Now())
		first := ing.anchored && !was
		s.mu.Unlock()
		if first {
			s.setState(SourcePlaying, nil)
		}
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
