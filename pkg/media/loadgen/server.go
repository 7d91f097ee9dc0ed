package loadgen

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtplpcm"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/pion/rtp"
)

// Audio choices for the served streams.
const (
	AudioNone = "none"
	AudioAAC  = "aac"  // from the sample's AAC track
	AudioG711 = "g711" // a synthetic µ-law 8 kHz tone
)

// Faults are injected into one stream. Zero values disable each fault.
type Faults struct {
	// NonMonotonicEvery steps the stream clock back by 2 s every period.
	NonMonotonicEvery time.Duration
	// JumpEvery moves the stream clock forward by JumpBy (default 10 s)
	// every period.
	JumpEvery time.Duration
	JumpBy    time.Duration
	// StripParamsFor removes SPS/PPS (and VPS) from the SDP and from the
	// stream for this long after the server starts.
	StripParamsFor time.Duration
	// DisconnectEvery closes every session reading the stream each period.
	DisconnectEvery time.Duration
}

// Config configures a Server.
type Config struct {
	Addr    string // listen address, "127.0.0.1:0" picks a port
	Streams int    // served as /cam0 … /camN-1
	Sample  *Sample
	Audio   string           // AudioNone (default), AudioAAC or AudioG711
	Faults  map[int]Faults   // by stream index
	Logger  *slog.Logger     // nil: discard
	Paths   func(int) string // optional path per index, default "cam<i>"
	// IdleTimeout is how long the server waits for a request from a
	// playing client before dropping it (default 60 s); it states 5 s
	// less as the session timeout.
	IdleTimeout time.Duration
	// User and Pass, when User is set, are the credentials every request
	// must carry (Basic or Digest, as the client picks from the challenge).
	User, Pass string
}

// Server serves the synthetic streams.
type Server struct {
	cfg     Config
	srv     *gortsplib.Server
	addr    net.Addr
	streams []*stream
	byPath  map[string]*stream
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StreamStats counts what one stream has sent.
type StreamStats struct {
	VideoFrames uint64
	KeyFrames   uint64
	AudioFrames uint64
	Disconnects uint64
	// PlayStart is VideoFrames just before the first keyframe sent after
	// the latest PLAY: the first frame a reader that started then can
	// decode. VideoFrames - PlayStart is what that reader was sent since.
	// Zero until a keyframe follows a PLAY.
	PlayStart uint64
}

type stream struct {
	s      *Server
	idx    int
	path   string
	faults Faults
	st     *gortsplib.ServerStream
	desc   *description.Session
	video  *description.Media
	audio  *description.Media

	mu       sync.Mutex
	sessions map[*gortsplib.ServerSession]struct{}

	videoFrames, keyFrames, audioFrames, disconnects atomic.Uint64
	playPending                                      atomic.Bool // a PLAY not yet followed by a keyframe
	playStart                                        atomic.Uint64
}

// Start listens and starts playing every stream.
func Start(cfg Config) (*Server, error) {
	if cfg.Sample == nil {
		return nil, fmt.Errorf("loadgen: no sample")
	}
	if cfg.Streams < 1 {
		cfg.Streams = 1
	}
	if cfg.Audio == "" {
		cfg.Audio = AudioNone
	}
	if cfg.Audio == AudioAAC && cfg.Sample.AACConfig == nil {
		return nil, fmt.Errorf("loadgen: sample has no AAC track")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Paths == nil {
		cfg.Paths = func(i int) string { return fmt.Sprintf("cam%d", i) }
	}
	s := &Server{cfg: cfg, byPath: map[string]*stream{}}
	s.srv = &gortsplib.Server{
		Handler:     s,
		RTSPAddress: cfg.Addr,
		IdleTimeout: cfg.IdleTimeout,
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				s.addr = ln.Addr()
			}
			return ln, err
		},
	}
	if err := s.srv.Start(); err != nil {
		return nil, fmt.Errorf("loadgen listen %s: %w", cfg.Addr, err)
	}
	for i := 0; i < cfg.Streams; i++ {
		st, err := s.newStream(i)
		if err != nil {
			s.srv.Close()
			return nil, err
		}
		s.streams = append(s.streams, st)
		s.byPath[st.path] = st
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for _, st := range s.streams {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			st.play(ctx)
		}()
		if st.faults.DisconnectEvery > 0 {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				st.disconnector(ctx)
			}()
		}
	}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.addr.String() }

// URL returns the RTSP URL of stream i.
func (s *Server) URL(i int) string {
	return "rtsp://" + s.Addr() + "/" + s.streams[i].path
}

// Stats returns what stream i has sent so far.
func (s *Server) Stats(i int) StreamStats {
	st := s.streams[i]
	return StreamStats{VideoFrames: st.videoFrames.Load(), KeyFrames: st.keyFrames.Load(),
		AudioFrames: st.audioFrames.Load(), Disconnects: st.disconnects.Load(), PlayStart: st.playStart.Load()}
}

// Close stops every stream and the server.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
	for _, st := range s.streams {
		st.st.Close()
	}
	s.srv.Close()
}

func (s *Server) newStream(i int) (*stream, error) {
	smp := s.cfg.Sample
	st := &stream{s: s, idx: i, path: s.cfg.Paths(i), faults: s.cfg.Faults[i],
		sessions: map[*gortsplib.ServerSession]struct{}{}}
	strip := st.faults.StripParamsFor > 0
	var vf format.Format
	if smp.H265 {
		f := &format.H265{PayloadTyp: 96}
		if !strip {
			f.VPS, f.SPS, f.PPS = smp.VPS, smp.SPS, smp.PPS
		}
		vf = f
	} else {
		f := &format.H264{PayloadTyp: 96, PacketizationMode: 1}
		if !strip {
			f.SPS, f.PPS = smp.SPS, smp.PPS
		}
		vf = f
	}
	st.video = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{vf}}
	st.desc = &description.Session{Medias: []*description.Media{st.video}}
	switch s.cfg.Audio {
	case AudioAAC:
		st.audio = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.MPEG4Audio{
			PayloadTyp: 97, Config: smp.AACConfig, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
		}}}
	case AudioG711:
		st.audio = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{
			PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1,
		}}}
	}
	if st.audio != nil {
		st.desc.Medias = append(st.desc.Medias, st.audio)
	}
	st.st = &gortsplib.ServerStream{Server: s.srv, Desc: st.desc}
	if err := st.st.Initialize(); err != nil {
		return nil, fmt.Errorf("loadgen stream %d: %w", i, err)
	}
	return st, nil
}

// authorize returns the 401 to answer when credentials are required and
// req lacks them or has wrong ones (the server then sends its challenge,
// or closes the connection), nil when req may proceed.
func (s *Server) authorize(c *gortsplib.ServerConn, req *base.Request) (*base.Response, error) {
	if s.cfg.User == "" || c.VerifyCredentials(req, s.cfg.User, s.cfg.Pass) {
		return nil, nil
	}
	return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (s *Server) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := s.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	st := s.byPath[strings.Trim(ctx.Path, "/")]
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, st.st, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (s *Server) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if res, err := s.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, nil, err
	}
	st := s.byPath[strings.Trim(ctx.Path, "/")]
	if st == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	st.mu.Lock()
	st.sessions[ctx.Session] = struct{}{}
	st.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, st.st, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay.
func (s *Server) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	if res, err := s.authorize(ctx.Conn, ctx.Request); res != nil {
		return res, err
	}
	if st := s.byPath[strings.Trim(ctx.Path, "/")]; st != nil {
		st.playPending.Store(true)
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose.
func (s *Server) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	for _, st := range s.streams {
		st.mu.Lock()
		delete(st.sessions, ctx.Session)
		st.mu.Unlock()
	}
}

func (st *stream) disconnector(ctx context.Context) {
	t := time.NewTicker(st.faults.DisconnectEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st.mu.Lock()
		for ss := range st.sessions {
			ss.Close()
			st.disconnects.Add(1)
		}
		st.mu.Unlock()
	}
}

// g711Tone is one second of a 440 Hz tone, µ-law 8 kHz.
var g711Tone = func() []byte {
	pcm := make([]byte, 16000)
	for i := 0; i < 8000; i++ {
		v := int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
		pcm[2*i] = byte(uint16(v) >> 8)
		pcm[2*i+1] = byte(uint16(v))
	}
	enc, _ := g711.Mulaw(pcm).Marshal()
	return enc
}()

const g711Frame = 160 // samples per packet: 20 ms

// play paces the sample in real time, looping with continuous timestamps.
func (st *stream) play(ctx context.Context) {
	smp := st.s.cfg.Sample
	var h264Enc *rtph264.Encoder
	var h265Enc *rtph265.Encoder
	var err error
	if smp.H265 {
		h265Enc, err = st.video.Formats[0].(*format.H265).CreateEncoder()
	} else {
		h264Enc, err = st.video.Formats[0].(*format.H264).CreateEncoder()
	}
	if err != nil {
		st.s.cfg.Logger.Error("loadgen encoder", "err", err)
		return
	}
	var aacEnc *rtpmpeg4audio.Encoder
	var g711Enc *rtplpcm.Encoder
	var audioRate int64
	if st.audio != nil {
		switch f := st.audio.Formats[0].(type) {
		case *format.MPEG4Audio:
			aacEnc, err = f.CreateEncoder()
			audioRate = int64(f.Config.SampleRate)
		case *format.G711:
			g711Enc, err = f.CreateEncoder()
			audioRate = 8000
		}
		if err != nil {
			st.s.cfg.Logger.Error("loadgen encoder", "err", err)
			return
		}
	}

	vBase, aBase := rand.Uint32(), rand.Uint32()
	t0 := time.Now()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	f := st.faults
	if f.JumpBy == 0 {
		f.JumpBy = 10 * time.Second
	}
	nextNonMono, nextJump := f.NonMonotonicEvery, f.JumpEvery
	var shift int64 // 90 kHz, applied to every timestamp sent
	var vi, ai int
	var vLoop, aLoop int64
	var g711PTS int64 // 90 kHz
	var g711Pos int

	for {
		vDTS := smp.Video[vi].DTS + vLoop*smp.Duration
		next, isAudio := vDTS, false
		var aPTS int64
		switch {
		case aacEnc != nil && len(smp.Audio) > 0:
			aPTS = smp.Audio[ai].PTS + aLoop*smp.Duration
		case g711Enc != nil:
			aPTS = g711PTS
		}
		if (aacEnc != nil && len(smp.Audio) > 0 || g711Enc != nil) && aPTS < vDTS {
			next, isAudio = aPTS, true
		}
		wait := time.Until(t0.Add(time.Duration(next) * time.Second / 90000))
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		el := time.Since(t0)
		if nextNonMono > 0 && el >= nextNonMono {
			shift -= 2 * 90000
			nextNonMono += f.NonMonotonicEvery
		}
		if nextJump > 0 && el >= nextJump {
			shift += int64(f.JumpBy) * 90000 / int64(time.Second)
			nextJump += f.JumpEvery
		}

		if isAudio {
			ts := aBase + uint32((aPTS+shift)*audioRate/90000)
			var pkts []*rtp.Packet
			if aacEnc != nil {
				pkts, err = aacEnc.Encode([][]byte{smp.Audio[ai].AU})
				ai++
				if ai == len(smp.Audio) {
					ai, aLoop = 0, aLoop+1
				}
			} else {
				frame := g711Tone[g711Pos : g711Pos+g711Frame]
				g711Pos = (g711Pos + g711Frame) % len(g711Tone)
				pkts, err = g711Enc.Encode(frame)
				g711PTS += g711Frame * 90000 / 8000
			}
			if err == nil {
				for _, p := range pkts {
					p.Timestamp = ts
					_ = st.st.WritePacketRTP(st.audio, p)
				}
				st.audioFrames.Add(1)
			}
			continue
		}

		v := smp.Video[vi]
		au := v.AU
		if f.StripParamsFor > 0 && el < f.StripParamsFor {
			kept := make([][]byte, 0, len(au))
			for _, n := range au {
				if !isParam(smp.H265, n) {
					kept = append(kept, n)
				}
			}
			au = kept
		}
		var pkts []*rtp.Packet
		if h264Enc != nil {
			pkts, err = h264Enc.Encode(au)
		} else {
			pkts, err = h265Enc.Encode(au)
		}
		if err == nil {
			if v.Key && st.playPending.CompareAndSwap(true, false) {
				st.playStart.Store(st.videoFrames.Load())
			}
			ts := vBase + uint32(v.PTS+vLoop*smp.Duration+shift)
			for _, p := range pkts {
				p.Timestamp = ts
				_ = st.st.WritePacketRTP(st.video, p)
			}
			st.videoFrames.Add(1)
			if v.Key {
				st.keyFrames.Add(1)
			}
		}
		vi++
		if vi == len(smp.Video) {
			vi, vLoop = 0, vLoop+1
		}
	}
}
