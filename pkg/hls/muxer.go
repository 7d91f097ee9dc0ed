package hls

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"

	"lightnvr/pkg/media"
	"lightnvr/pkg/record"
)

// initSeg is one init segment (ftyp+moov); a codec or parameter change
// starts a new one.
type initSeg struct {
	id     uint64
	data   []byte
	codecs string // RFC 6381, for the Content-Type a MediaSource needs
}

// part is one moof+mdat, a sub-slice of its segment's data.
type part struct {
	data        []byte
	dur         time.Duration
	independent bool // starts with a keyframe
}

// segment is one HLS media segment: parts from one keyframe to the next cut.
type segment struct {
	msn      uint64
	init     *initSeg
	disc     bool // a discontinuity precedes it
	wall     time.Time
	data     []byte
	parts    []part
	dur      time.Duration
	complete bool
}

// muxer cuts one stream's units into segments and parts held in memory.
// One goroutine (run) writes; the HTTP side reads under mu.
type muxer struct {
	cfg  *Config
	name string
	log  *slog.Logger

	lastUse atomic.Int64 // unix nanoseconds of the last request
	waiting atomic.Int32 // requests blocked in wait: viewers too

	mu       sync.Mutex
	segs     []*segment // oldest first; the last one may be open
	discSeq  uint64     // discontinuities evicted from the front
	notify   chan struct{}
	done     chan struct{} // closed when run returns
	maxPart  time.Duration
	nextMSN  uint64
	nextInit uint64
	seq      uint32 // mfhd sequence number of the last part

	// Writer state, owned by run.
	b       *builder
	lastBuf int // size of the last segment, to size the next one's buffer
	needDis bool
}

func newMuxer(cfg *Config, name string) *muxer {
	m := &muxer{cfg: cfg, name: name, log: cfg.Logger.With("stream", name),
		notify: make(chan struct{}), done: make(chan struct{})}
	m.touch()
	return m
}

func (m *muxer) touch() { m.lastUse.Store(time.Now().UnixNano()) }

// run feeds the muxer from sub until sub ends (the hub closed or the
// server unsubscribed it) or nobody asked for anything for IdleTimeout.
func (m *muxer) run(sub *media.Subscription) {
	defer close(m.done)
	defer sub.Unsubscribe()
	idle := time.NewTicker(m.cfg.IdleTimeout / 4)
	defer idle.Stop()
	for {
		select {
		case <-idle.C:
			if m.waiting.Load() == 0 && time.Since(time.Unix(0, m.lastUse.Load())) > m.cfg.IdleTimeout {
				m.log.Debug("live HLS stopped: no viewers")
				return
			}
		case u, ok := <-sub.C():
			if !ok {
				return // the pipeline stopped; the next request starts over on its new hub
			}
			if err := m.write(u); err != nil {
				m.log.Warn("live HLS: unit skipped", "err", err)
				m.restart()
			}
		}
	}
}

// builder is the open segment's tracks.
type builder struct {
	desc      *media.Desc
	video     *trackB
	audio     *trackB
	primary   *trackB
	segStart  int64 // primary ticks (absolute)
	partStart int64
	seg       *segment
}

// trackB buffers one track's samples of the part being built.
type trackB struct {
	id      int
	t       *media.Track
	origin  int64 // absolute ticks of the stream's first keyframe
	pending *media.Unit
	pendRel int64
	lastDur uint32
	samples []fmp4.Sample
	base    int64 // relative decode time of the part's first sample
	end     int64 // relative decode time after the last sample
}

// restart drops the open segment; the next keyframe starts a new one after
// a discontinuity.
func (m *muxer) restart() {
	if m.b != nil && m.b.seg != nil {
		m.closeSegment(m.b.seg)
	}
	m.b = nil
	m.needDis = true
}

// write adds one unit.
func (m *muxer) write(u *media.Unit) error {
	b := m.b
	if b != nil && u.Desc != b.desc {
		if !u.Key || !u.IsVideo() && b.video != nil {
			return nil // the new parameters apply from the next keyframe
		}
		m.restart()
		b = nil
	}
	if b == nil {
		if !u.Key || (u.Desc.Video != nil && !u.IsVideo()) {
			return nil
		}
		var err error
		if b, err = m.start(u); err != nil {
			m.needDis = true
			return err
		}
	}
	tb := b.track(u)
	if tb == nil {
		return nil
	}
	rel := u.DTS - tb.origin
	if rel < 0 {
		return nil // audio from before the first keyframe
	}
	if tb.pending != nil {
		dur := rel - tb.pendRel
		clock := int64(tb.t.ClockRate)
		switch {
		case tb != b.primary && (dur <= 0 || dur > clock):
			return nil // odd audio never breaks the video
		case dur <= 0 || dur > 10*clock:
			return fmt.Errorf("%s timestamps jumped by %d ticks", tb.t.Codec, dur)
		}
		tb.add(tb.pending, tb.pendRel, uint32(dur))
	}
	tb.pending, tb.pendRel = u, rel
	if tb == b.primary {
		m.cut(b, u)
	}
	return nil
}

// cut ends the part (and at a keyframe past SegmentTarget, the segment)
// before primary unit u when adding it would exceed the part target.
func (m *muxer) cut(b *builder, u *media.Unit) {
	p := b.primary
	if len(p.samples) == 0 {
		return
	}
	rate := p.t.ClockRate
	if u.Key && media.TicksToDuration(u.DTS-b.segStart, rate) >= m.cfg.SegmentTarget {
		m.flushPart(b)
		m.closeSegment(b.seg)
		b.seg = m.openSegment(b.seg.init, u.Wall)
		b.segStart, b.partStart = u.DTS, u.DTS
		return
	}
	if media.TicksToDuration(u.DTS+int64(p.lastDur)-b.partStart, rate) > m.cfg.PartTarget {
		m.flushPart(b)
		b.partStart = u.DTS
	}
}

// start opens the first segment at keyframe u with a new init segment.
func (m *muxer) start(u *media.Unit) (*builder, error) {
	b := &builder{desc: u.Desc, segStart: u.DTS, partStart: u.DTS}
	startT := u.Time(u.DTS)
	init := &fmp4.Init{}
	id := 1
	for _, t := range []*media.Track{u.Desc.Video, u.Desc.Audio} {
		if !playable(t) {
			continue
		}
		it, err := record.InitTrack(id, t)
		if err != nil {
			return nil, err
		}
		init.Tracks = append(init.Tracks, it)
		tb := &trackB{id: id, t: t, origin: media.DurationToTicks(startT, t.ClockRate)}
		if t.Codec.IsVideo() {
			b.video = tb
		} else {
			b.audio = tb
		}
		id++
	}
	b.primary = b.video
	if b.primary == nil {
		b.primary = b.audio
	}
	if b.primary == nil {
		return nil, fmt.Errorf("no track live HLS can carry")
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("marshal init: %w", err)
	}
	m.mu.Lock()
	m.nextInit++
	is := &initSeg{id: m.nextInit, data: buf.Bytes(), codecs: codecsOf(b.video, b.audio)}
	m.mu.Unlock()
	b.seg = m.openSegment(is, u.Wall)
	m.b = b
	return b, nil
}

// playable says whether t goes into live HLS: browsers play no LPCM in
// HLS, so G.711 cameras are shown without sound.
func playable(t *media.Track) bool {
	return t.Ready() && t.Codec != media.CodecLPCM
}

func (b *builder) track(u *media.Unit) *trackB {
	for _, tb := range []*trackB{b.video, b.audio} {
		if tb != nil && tb.t == u.Track {
			return tb
		}
	}
	return nil
}

func (tb *trackB) add(u *media.Unit, rel int64, dur uint32) {
	if len(tb.samples) == 0 {
		tb.base = max(rel, tb.end)
		tb.end = tb.base
	}
	tb.samples = append(tb.samples, fmp4.Sample{Duration: dur, PTSOffset: int32(u.PTS - u.DTS),
		IsNonSyncSample: !u.Key, Payload: u.Payload})
	tb.end += int64(dur)
	tb.lastDur = dur
}

// openSegment appends a new open segment and evicts the oldest beyond the
// number held.
func (m *muxer) openSegment(init *initSeg, wall time.Time) *segment {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &segment{msn: m.nextMSN, init: init, disc: m.needDis && len(m.segs) > 0, wall: wall,
		data: make([]byte, 0, m.lastBuf+m.lastBuf/4)}
	m.needDis = false
	m.nextMSN++
	m.segs = append(m.segs, s)
	for len(m.segs) > m.cfg.Segments+1 {
		if m.segs[0].disc {
			m.discSeq++
		}
		m.segs[0] = nil
		m.segs = m.segs[1:]
	}
	return s
}

// flushPart publishes the buffered samples as one part of the open segment.
func (m *muxer) flushPart(b *builder) {
	var tracks [2]record.PartTrack
	n := 0
	var dur time.Duration
	independent := false
	for _, tb := range []*trackB{b.video, b.audio} {
		if tb == nil || len(tb.samples) == 0 {
			continue
		}
		tracks[n] = record.PartTrack{ID: tb.id, Base: tb.base, Samples: tb.samples}
		n++
		if tb == b.primary {
			var d int64
			for i := range tb.samples {
				d += int64(tb.samples[i].Duration)
			}
			dur = media.TicksToDuration(d, tb.t.ClockRate)
			independent = !tb.samples[0].IsNonSyncSample
		}
	}
	if n == 0 {
		return
	}
	m.mu.Lock()
	m.seq++
	s := b.seg
	off := len(s.data)
	s.data = record.AppendPart(s.data, m.seq, tracks[:n]...)
	s.parts = append(s.parts, part{data: s.data[off:len(s.data):len(s.data)], dur: dur, independent: independent})
	s.dur += dur
	m.maxPart = max(m.maxPart, dur)
	m.wake()
	m.mu.Unlock()
	for _, tb := range []*trackB{b.video, b.audio} {
		if tb != nil {
			clear(tb.samples) // let the units' buffers go
			tb.samples = tb.samples[:0]
		}
	}
}

// closeSegment marks s complete; an empty one is dropped.
func (m *muxer) closeSegment(s *segment) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(s.parts) == 0 {
		if n := len(m.segs); n > 0 && m.segs[n-1] == s {
			m.segs = m.segs[:n-1]
			m.nextMSN--
		}
		return
	}
	s.complete = true
	m.lastBuf = len(s.data)
	m.wake()
}

// wake tells every waiting request that something changed; mu is held.
func (m *muxer) wake() {
	close(m.notify)
	m.notify = make(chan struct{})
}

// wait blocks until cond (called with mu held) holds, ctx ends or the
// muxer stops; it reports whether cond held.
func (m *muxer) wait(ctx context.Context, cond func() bool) bool {
	m.waiting.Add(1)
	defer func() {
		m.touch()
		m.waiting.Add(-1)
	}()
	for {
		m.mu.Lock()
		ok, ch := cond(), m.notify
		m.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-m.done:
			return false
		}
	}
}

// find is segment msn, nil when it is not held; mu is held.
func (m *muxer) find(msn uint64) *segment {
	if len(m.segs) == 0 || msn < m.segs[0].msn {
		return nil
	}
	i := msn - m.segs[0].msn
	if i >= uint64(len(m.segs)) {
		return nil
	}
	return m.segs[i]
}

// completeCount is how many held segments are complete; mu is held.
func (m *muxer) completeCount() int {
	n := 0
	for _, s := range m.segs {
		if s.complete {
			n++
		}
	}
	return n
}
