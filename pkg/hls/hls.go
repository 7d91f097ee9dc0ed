// Package hls serves live HLS cut from a stream's media hub, in memory:
// LL-HLS (fMP4 parts, blocking playlist reloads) and, in the same playlist,
// plain HLS for players that ignore the part tags. Nothing is written to
// disk. A stream's muxer starts with the first request and stops when no
// request came for IdleTimeout.
package hls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"lightnvr/pkg/media"
)

// Config tunes the live HLS of every stream.
type Config struct {
	// Hub is the running hub of stream name, nil when it is not running.
	Hub func(name string) *media.Hub
	// SegmentTarget is the shortest segment: a segment ends at the first
	// keyframe after it (default 2 s), so a camera's GOP sets the real length.
	SegmentTarget time.Duration
	// PartTarget is the longest part (default 1 s).
	PartTarget time.Duration
	// Segments is how many complete segments are held (default 4).
	Segments int
	// IdleTimeout stops a stream's muxer after no request for it (default 30 s).
	IdleTimeout time.Duration
	// StartTimeout bounds the wait of the first request for the first
	// complete segment (default 15 s).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Errors of the request methods.
var (
	ErrNotRunning = errors.New("stream is not running")
	ErrNotFound   = errors.New("no such live HLS file")
	ErrNoVideo    = errors.New("no video from the stream yet")
)

// Server holds the muxers of the streams being watched.
type Server struct {
	cfg Config
	wg  sync.WaitGroup

	mu     sync.Mutex
	closed bool
	muxers map[string]*muxer
	subs   map[*muxer]*media.Subscription
}

// New returns a server with no muxer running.
func New(cfg Config) *Server {
	if cfg.SegmentTarget <= 0 {
		cfg.SegmentTarget = 2 * time.Second
	}
	if cfg.PartTarget <= 0 {
		cfg.PartTarget = time.Second
	}
	if cfg.Segments <= 0 {
		cfg.Segments = 4
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, muxers: map[string]*muxer{}, subs: map[*muxer]*media.Subscription{}}
}

// Close stops every muxer and waits for them: each sees its subscription end.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for _, sub := range s.subs {
		sub.Unsubscribe()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Running is the number of streams whose muxer runs.
func (s *Server) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.muxers)
}

// muxer returns stream name's running muxer, starting one if need be.
func (s *Server) muxer(name string) (*muxer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.muxers[name]; m != nil {
		m.touch()
		return m, nil
	}
	if s.closed {
		return nil, ErrNotRunning
	}
	hub := s.cfg.Hub(name)
	if hub == nil {
		return nil, ErrNotRunning
	}
	m := newMuxer(&s.cfg, name)
	// Units wait here while a request holds the muxer's lock: a few
	// seconds of video at most before the muxer loses some.
	sub := hub.Subscribe("hls", 256)
	s.muxers[name], s.subs[m] = m, sub
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		m.run(sub)
		s.mu.Lock()
		if s.muxers[name] == m {
			delete(s.muxers, name)
		}
		delete(s.subs, m)
		s.mu.Unlock()
	}()
	return m, nil
}

// ready returns stream name's muxer once it holds a complete segment.
func (s *Server) ready(ctx context.Context, name string) (*muxer, error) {
	m, err := s.muxer(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	if !m.wait(ctx, func() bool { return m.completeCount() > 0 }) {
		return nil, ErrNoVideo
	}
	return m, nil
}

// Playlist is stream name's media playlist. With msn ≥ 0 it blocks (LL-HLS
// _HLS_msn/_HLS_part) until segment msn, or its part number part when
// part ≥ 0, exists, or for three target durations at most.
func (s *Server) Playlist(ctx context.Context, name string, msn, part int64) ([]byte, error) {
	m, err := s.ready(ctx, name)
	if err != nil {
		return nil, err
	}
	if msn >= 0 {
		ctx, cancel := context.WithTimeout(ctx, 3*s.blockLimit())
		defer cancel()
		m.wait(ctx, func() bool { return m.has(uint64(msn), part) })
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.playlist(), nil
}

func (s *Server) blockLimit() time.Duration { return max(s.cfg.SegmentTarget, 2*time.Second) }

// has says whether segment msn (complete, when part < 0) or its part
// exists or is already gone; mu is held.
func (m *muxer) has(msn uint64, part int64) bool {
	n := len(m.segs)
	if n == 0 {
		return false
	}
	last := m.segs[n-1]
	if msn < last.msn {
		return true
	}
	if msn > last.msn {
		return false
	}
	if part < 0 {
		return last.complete
	}
	return int64(len(last.parts)) > part || last.complete
}

// soon says whether segment msn is the open one or the next: only those
// are worth waiting for.
func (m *muxer) soon(msn uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.segs)
	return n > 0 && msn >= m.segs[n-1].msn && msn <= m.segs[n-1].msn+1
}

// File is one file the playlist names: initN.mp4, segN.m4s or partN.I.m4s,
// and its Content-Type. A segment or part the playlist announces but that is
// not finished yet (the preload hint) is waited for.
func (s *Server) File(ctx context.Context, name, file string) ([]byte, string, error) {
	m, err := s.ready(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if id, ok := strings.CutPrefix(file, "init"); ok {
		return m.initFile(strings.TrimSuffix(id, ".mp4"))
	}
	msn, part, err := parseMedia(file)
	if err != nil {
		return nil, "", err
	}
	if m.soon(msn) {
		ctx, cancel := context.WithTimeout(ctx, 3*s.blockLimit())
		defer cancel()
		m.wait(ctx, func() bool { return m.has(msn, part) })
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seg := m.find(msn)
	switch {
	case seg == nil:
	case part < 0 && seg.complete:
		return seg.data, "video/iso.segment", nil
	case part >= 0 && part < int64(len(seg.parts)):
		return seg.parts[part].data, "video/iso.segment", nil
	}
	return nil, "", ErrNotFound
}

func (m *muxer) initFile(id string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.segs {
		if strconv.FormatUint(s.init.id, 10) == id {
			return s.init.data, fmt.Sprintf("video/mp4; codecs=%q", s.init.codecs), nil
		}
	}
	return nil, "", ErrNotFound
}

// parseMedia reads segN.m4s (part -1) and partN.I.m4s.
func parseMedia(file string) (msn uint64, part int64, err error) {
	base, ok := strings.CutSuffix(file, ".m4s")
	if !ok {
		return 0, 0, ErrNotFound
	}
	part = -1
	if rest, ok := strings.CutPrefix(base, "seg"); ok {
		msn, err = strconv.ParseUint(rest, 10, 64)
	} else if rest, ok := strings.CutPrefix(base, "part"); ok {
		a, b, _ := strings.Cut(rest, ".")
		if msn, err = strconv.ParseUint(a, 10, 64); err == nil {
			part, err = strconv.ParseInt(b, 10, 32)
		}
	} else {
		return 0, 0, ErrNotFound
	}
	if err != nil || part < -1 {
		return 0, 0, ErrNotFound
	}
	return msn, part, nil
}
