package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"golang.org/x/sys/unix"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
)

// dbTimeout bounds each database write of the recorder, so a locked
// database cannot stall ingest forever.
const dbTimeout = 10 * time.Second

// rowTimeout bounds the wait for a segment's row, new or completed. Longer
// than dbTimeout because a RowWriter round can take seconds on a slow disk
// and a caller may wait for two. Waiting costs at most what the
// subscription buffer cannot hold; failing costs a new segment's video
// until a back-off and the next keyframe, or a completed one's repair.
const rowTimeout = 30 * time.Second

// slowSync is how long a part's fdatasync may take before it is logged: a
// healthy disk takes milliseconds; an SD card collecting its garbage, or a
// flush every writer on the disk waits for, takes seconds.
const slowSync = 2 * time.Second

// scratch holds buffers reused by every part of every segment.
type scratch struct {
	buf  seekablebuffer.Buffer // init segments
	moof []byte                // moof and mdat header of a part
	bufs [][]byte              // what one writev sends: moof, then the payloads
	iov  []unix.Iovec
	idx  []byte
}

// trackW is one track of the open segment.
type trackW struct {
	id    int
	t     *media.Track
	clock int64
	start int64 // segment start in this track's ticks

	pending    *media.Unit // its duration is known only when the next unit arrives
	pendingRel int64

	samples  []fmp4.Sample // current part; the payloads are in buf
	buf      *partBuf      // this track kind's, the recorder's
	partBase int64         // relative decode time of the part's first sample
	end      int64         // relative decode time after the last sample written or buffered
	lastDur  uint32
	count    int64
}

// segment is one fMP4 file being written.
type segment struct {
	r       *Recorder
	desc    *media.Desc
	video   *trackW
	audio   *trackW
	primary *trackW

	startDTS  int64 // primary track ticks (absolute)
	startWall time.Time

	id       int64
	dir      string
	path     string
	f        *os.File
	size     int64
	initSize int64
	mvhdOff  int64
	parts    []partInfo
	seq      uint32

	partStart int64 // primary ticks (absolute) of the current part's first sample
	lastIndex time.Time
}

func newSegment(r *Recorder, u *media.Unit) *segment {
	s := &segment{r: r, desc: u.Desc, startDTS: u.DTS, startWall: u.Wall}
	startT := u.Time(u.DTS)
	id := 1
	// A part left by a segment abandoned on a storage error is not this
	// segment's; and between segments is when pages a burst touched can go.
	for i := range r.parts {
		r.parts[i].reset()
		if err := r.parts[i].trim(); err != nil {
			r.log.Warn("part buffer kept its pages", "err", err)
		}
	}
	if v := u.Desc.Video; v != nil {
		s.video = &trackW{id: id, t: v, clock: int64(v.ClockRate), start: media.DurationToTicks(startT, v.ClockRate), buf: &r.parts[0]}
		s.primary = s.video
		id++
	}
	if a := u.Desc.Audio; a != nil && !r.cfg.NoAudio && a.Ready() {
		s.audio = &trackW{id: id, t: a, clock: int64(a.ClockRate), start: media.DurationToTicks(startT, a.ClockRate), buf: &r.parts[1]}
		if s.primary == nil {
			s.primary = s.audio
		}
	}
	s.partStart = u.DTS
	return s
}

// fromVideo converts primary-track ticks to a duration.
func (s *segment) fromVideo(ticks int64) time.Duration {
	return media.TicksToDuration(ticks, int(s.primary.clock))
}

// continues reports whether video unit u follows the last video sample
// without a gap (within two frame periods).
func (s *segment) continues(u *media.Unit) bool {
	v := s.video
	if v == nil || v.pending == nil {
		return false
	}
	d := u.DTS - v.pending.DTS
	limit := int64(v.lastDur) * 2
	if limit == 0 {
		limit = v.clock / 5
	}
	return d > 0 && d <= limit
}

func (s *segment) track(u *media.Unit) *trackW {
	if u.IsVideo() {
		if s.video != nil && u.Track == s.video.t {
			return s.video
		}
		return nil
	}
	if s.audio != nil && u.Track == s.audio.t {
		return s.audio
	}
	return nil
}

// write buffers u; a part is written once the primary track holds
// PartDuration of media. It takes over the caller's reference to u's
// payload and releases it once the payload is copied into the part or
// dropped.
func (s *segment) write(u *media.Unit) error {
	tw := s.track(u)
	if tw == nil {
		u.Release()
		return nil
	}
	rel := u.DTS - tw.start
	if rel < 0 {
		u.Release()
		return nil // audio from before the segment's first keyframe
	}
	if tw != s.video && s.video != nil && s.video.pending != nil {
		// Audio whose clock jumped away from the video (the camera's
		// timeline stepped and the video has not shown it yet) would
		// stretch the segment: drop it, the video decides the cut.
		skew := media.TicksToDuration(rel, int(tw.clock)) - media.TicksToDuration(s.video.pendingRel, int(s.video.clock))
		if skew.Abs() > s.r.cfg.MaxGap {
			s.r.dropped++
			u.Release()
			return nil
		}
	}
	if tw.pending != nil {
		dur := rel - tw.pendingRel
		if tw != s.video {
			// Audio oddities never end a segment: a step back drops the
			// unit, a hole is played as one frame.
			if dur <= 0 {
				s.r.dropped++
				u.Release()
				return nil
			}
			if dur > tw.clock {
				dur = int64(tw.nominal(tw.pending))
			}
		}
		tw.add(tw.pending, tw.pendingRel, uint32(dur))
	}
	tw.pending, tw.pendingRel = u, rel
	if tw == s.primary && len(tw.samples) > 0 &&
		s.fromVideo(u.DTS-s.partStart) >= s.r.cfg.PartDuration {
		if err := s.flushPart(); err != nil {
			return err
		}
		s.partStart = u.DTS
	}
	return nil
}

// nominal is the duration given to a sample whose successor is unknown.
func (tw *trackW) nominal(u *media.Unit) uint32 {
	if tw.lastDur > 0 {
		return tw.lastDur
	}
	switch tw.t.Codec {
	case media.CodecAAC:
		return 1024
	case media.CodecOpus:
		return 960
	case media.CodecLPCM:
		if ch := max(tw.t.Channels, 1); len(u.Payload) > 0 {
			return uint32(len(u.Payload) / 2 / ch)
		}
	case media.CodecH264, media.CodecH265:
		if tw.t.FPS > 0 {
			return uint32(float64(tw.clock) / tw.t.FPS)
		}
		return uint32(tw.clock / 25)
	}
	return 1
}

// add appends u to the part: its payload is copied into the part buffer
// and its frame released.
func (tw *trackW) add(u *media.Unit, rel int64, dur uint32) {
	if len(tw.samples) == 0 {
		tw.partBase = max(rel, tw.end)
		tw.end = tw.partBase
	}
	payload, moved := tw.buf.add(u.Payload)
	if moved {
		tw.repoint()
	}
	tw.samples = append(tw.samples, fmp4.Sample{
		Duration:        dur,
		PTSOffset:       int32(u.PTS - u.DTS),
		IsNonSyncSample: !u.Key,
		Payload:         payload,
	})
	u.Release()
	tw.end += int64(dur)
	tw.lastDur = dur
	tw.count++
}

// repoint takes the part's payloads from the buffer again after it moved.
func (tw *trackW) repoint() {
	b, off := tw.buf.bytes(), 0
	for i := range tw.samples {
		n := len(tw.samples[i].Payload)
		tw.samples[i].Payload = b[off : off+n]
		off += n
	}
}

// reset empties the part once it is written (or failed to be).
func (tw *trackW) reset() {
	for i := range tw.samples {
		tw.samples[i].Payload = nil
	}
	tw.samples = tw.samples[:0]
	tw.buf.reset()
}

func (s *segment) flushPart() error {
	var tracks [2]*trackW
	n := 0
	for _, tw := range []*trackW{s.video, s.audio} {
		if tw != nil && len(tw.samples) > 0 {
			tracks[n] = tw
			n++
		}
	}
	if n == 0 {
		return nil
	}
	first := s.f == nil
	if first {
		if err := s.create(); err != nil {
			return err
		}
	}
	s.seq++
	sc := &s.r.scratch
	sc.moof = appendMoof(sc.moof[:0], s.seq, tracks[:n])
	sc.bufs = append(sc.bufs[:0], sc.moof)
	for _, tw := range tracks[:n] {
		for i := range tw.samples {
			sc.bufs = append(sc.bufs, tw.samples[i].Payload)
		}
	}
	info := partInfo{}
	for _, b := range sc.bufs {
		info.size += int64(len(b))
	}
	if pr := s.primary; len(pr.samples) > 0 {
		var d int64
		for i := range pr.samples {
			d += int64(pr.samples[i].Duration)
		}
		info.dur = media.TicksToDuration(d, int(pr.clock))
		info.key = !pr.samples[0].IsNonSyncSample
	}
	var err error
	sc.iov, err = writeAll(int(s.f.Fd()), sc.bufs, sc.iov)
	clear(sc.bufs) // let the units' buffers go
	for _, tw := range []*trackW{s.video, s.audio} {
		if tw != nil {
			tw.reset()
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.size += info.size
	s.parts = append(s.parts, info)
	if s.r.cfg.OnWrite != nil {
		n := info.size
		if first {
			n += s.initSize
		}
		s.r.cfg.OnWrite(n)
	}
	if !s.r.cfg.NoSync {
		began := time.Now()
		if err := s.r.cfg.Sync(s.f); err != nil {
			return fmt.Errorf("sync %s: %w", s.path, err)
		}
		if took := time.Since(began); took > slowSync {
			// Units queue in the subscription meanwhile; a disk that does
			// this often fills the queue and the recording gets gaps.
			s.r.log.Warn("the disk was slow to make a part durable", "took", took.Round(time.Millisecond), "path", s.path)
		}
	}
	if first {
		if err := SyncDir(s.dir); err != nil {
			return err
		}
		s.r.recovered()
		s.r.repairAbandoned()
	}
	if time.Since(s.lastIndex) >= s.r.cfg.IndexInterval {
		s.lastIndex = time.Now()
		if w := s.r.cfg.RowWriter; w != nil {
			// Saved with the other streams' in the RowWriter's next round.
			ix := s.index()
			ix.Parts = bytes.Clone(ix.Parts) // the scratch buffer is reused before the round
			w.written(s.f, ix)
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		if err := db.PutRecordingIndex(ctx, s.r.cfg.DB, s.index()); err != nil {
			// The index is rebuilt from the file if need be; the video matters more.
			s.r.log.Warn("part index not saved", "err", err)
		}
	}
	return nil
}

// closeFile closes a segment's file, which cfg's RowWriter then leaves
// alone: no round overwrites the index saved after it.
func closeFile(cfg *Config, f *os.File) error {
	if cfg.RowWriter != nil {
		cfg.RowWriter.forget(f)
	}
	return f.Close()
}

// insertRow writes rec as a new incomplete row and returns its id.
func (cfg *Config) insertRow(ctx context.Context, rec *db.Recording) (int64, error) {
	if cfg.RowWriter != nil {
		return cfg.RowWriter.insert(ctx, rec)
	}
	return db.InsertRecording(ctx, cfg.DB, rec)
}

// finishRow saves a closed segment's final index and marks its row
// complete.
func (cfg *Config) finishRow(ctx context.Context, ix *db.RecordingIndex, end db.RecordingEnd) error {
	if cfg.RowWriter != nil {
		return cfg.RowWriter.finish(ctx, ix, end)
	}
	return db.FinishRecording(ctx, cfg.DB, ix, end)
}

func (s *segment) duration() time.Duration {
	return media.TicksToDuration(s.primary.end, int(s.primary.clock))
}

func (s *segment) index() *db.RecordingIndex {
	s.r.scratch.idx = encodeParts(s.parts, s.r.scratch.idx)
	return &db.RecordingIndex{RecordingID: s.id, StartUS: s.startWall.UnixMicro(), DurationUS: s.duration().Microseconds(),
		InitSize: s.initSize, PartCount: len(s.parts), Parts: s.r.scratch.idx}
}

func (s *segment) codecName() string {
	if s.video != nil {
		return string(s.video.t.Codec)
	}
	return string(s.primary.t.Codec)
}

// create inserts the row, then creates the file and writes its init: the
// row exists before the file, so a crash leaves a row recovery can see,
// never a file nobody knows.
func (s *segment) create() error {
	cfg := &s.r.cfg
	s.dir = SegmentDir(cfg.StorageDir, cfg.Stream, cfg.DirFormat, s.startWall)
	if err := mkdirAllSync(s.dir); err != nil {
		return err
	}
	for n := 0; ; n++ {
		p := filepath.Join(s.dir, fileName(cfg.TriggerType, s.startWall, n))
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			s.path = p
			break
		} else if err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		if n > 1000 {
			return fmt.Errorf("no free file name in %s", s.dir)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
	defer cancel()
	rec := &db.Recording{StreamName: cfg.Stream, FilePath: s.path, StartTime: s.startWall.Unix(),
		Codec: s.codecName(), TriggerType: cfg.TriggerType, ScheduleRestricted: &cfg.ScheduleRestricted}
	if s.video != nil {
		rec.Width, rec.Height, rec.FPS = s.video.t.Width, s.video.t.Height, int(s.video.t.FPS+0.5)
	}
	id, err := cfg.insertRow(ctx, rec)
	if err != nil {
		return err
	}
	s.id = id
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if derr := db.DeleteRecording(ctx, cfg.DB, id); derr == nil {
			s.id = 0
		}
		return fmt.Errorf("create %s: %w", s.path, err)
	}
	s.f = f
	init, err := s.init()
	if err != nil {
		return err
	}
	buf := &s.r.scratch.buf
	buf.Reset()
	if err := init.Marshal(buf); err != nil {
		return fmt.Errorf("marshal init: %w", err)
	}
	s.mvhdOff, err = findMvhd(buf.Bytes())
	if err != nil {
		return err
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.initSize = int64(buf.Len())
	s.size = s.initSize
	return nil
}

func (s *segment) init() (*fmp4.Init, error) {
	init := &fmp4.Init{}
	for _, tw := range []*trackW{s.video, s.audio} {
		if tw == nil {
			continue
		}
		it, err := InitTrack(tw.id, tw.t)
		if err != nil {
			return nil, err
		}
		init.Tracks = append(init.Tracks, it)
	}
	return init, nil
}

// InitTrack is the init segment's entry for track t with id: the recorder's
// sample entries, shared by live HLS.
func InitTrack(id int, t *media.Track) (*fmp4.InitTrack, error) {
	it := &fmp4.InitTrack{ID: id, TimeScale: uint32(t.ClockRate)}
	switch t.Codec {
	case media.CodecH264:
		it.Codec = &codecs.H264{SPS: t.SPS, PPS: t.PPS}
	case media.CodecH265:
		it.Codec = &codecs.H265{VPS: t.VPS, SPS: t.SPS, PPS: t.PPS}
	case media.CodecAAC:
		it.Codec = &codecs.MPEG4Audio{Config: *t.AACConfig}
	case media.CodecOpus:
		it.Codec = &codecs.Opus{ChannelCount: max(t.Channels, 1)}
	case media.CodecLPCM:
		it.Codec = &codecs.LPCM{BitDepth: 16, SampleRate: t.SampleRate, ChannelCount: max(t.Channels, 1)}
	default:
		return nil, fmt.Errorf("codec %s cannot be recorded", t.Codec)
	}
	return it, nil
}

// findMvhd returns the offset of the mvhd box in an init segment.
func findMvhd(b []byte) (int64, error) {
	var off int64
	for off+8 <= int64(len(b)) {
		size := int64(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		if typ == "moov" {
			c := off + 8
			if c+8 <= int64(len(b)) && string(b[c+4:c+8]) == "mvhd" && b[c+8] == 0 {
				return c, nil
			}
			break
		}
		if size < 8 {
			break
		}
		off += size
	}
	return 0, errors.New("init segment without a version-0 mvhd")
}

// patchMvhd writes the segment duration (ms) into the version-0 mvhd at off.
func patchMvhd(f *os.File, off int64, d time.Duration) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(d.Milliseconds()))
	// size, type, version+flags, creation, modification, timescale: 24 bytes.
	if _, err := f.WriteAt(b[:], off+24); err != nil {
		return fmt.Errorf("patch mvhd: %w", err)
	}
	return nil
}

// finish writes what is buffered and syncs it: from then on the segment's
// media is durable. What is left (the duration in mvhd, the file's and its
// directory's sync, the row marked complete) is returned as a closing for
// the recorder's closer, nil when nothing was ever written. A disk that
// takes seconds to flush then holds the closer, not the next segment.
func (s *segment) finish(endDTS int64) (*closing, error) {
	for _, tw := range []*trackW{s.video, s.audio} {
		if tw == nil || tw.pending == nil {
			continue
		}
		dur := int64(tw.nominal(tw.pending))
		if tw == s.video && endDTS > tw.pending.DTS {
			dur = endDTS - tw.pending.DTS
		}
		tw.add(tw.pending, tw.pendingRel, uint32(dur))
		tw.pending = nil
	}
	if err := s.flushPart(); err != nil {
		s.abandon()
		return nil, err
	}
	if s.f == nil {
		return nil, nil // nothing was ever written
	}
	ix := s.index()
	ix.Parts = bytes.Clone(ix.Parts) // the scratch buffer is the next segment's
	d := s.duration()
	end := db.RecordingEnd{EndTime: s.startWall.Add(d).Unix(), SizeBytes: s.size, Codec: s.codecName()}
	if s.video != nil {
		end.Width, end.Height = s.video.t.Width, s.video.t.Height
		if d > 0 {
			end.FPS = int(float64(s.video.count)/d.Seconds() + 0.5)
		}
	}
	c := &closing{f: s.f, id: s.id, path: s.path, dir: s.dir, mvhdOff: s.mvhdOff, dur: d,
		ix: ix, end: end, cfg: &s.r.cfg, completed: &s.r.segments, done: make(chan struct{})}
	s.f, s.id = nil, 0
	return c, nil
}

// testHookClose, when set by a test, runs first in every close: it can hold
// the close as a slow disk would, or break it.
var testHookClose func(*closing)

// closing is a segment whose media is durable, on its way to complete: the
// work a recorder's closer does while the next segment is written. It
// touches nothing of the recorder but its immutable config.
type closing struct {
	f         *os.File
	id        int64
	path, dir string
	mvhdOff   int64
	dur       time.Duration
	ix        *db.RecordingIndex
	end       db.RecordingEnd
	cfg       *Config
	completed *atomic.Uint64 // the recorder's count of segments completed

	done chan struct{} // closed once err is set
	err  error         // the row stays incomplete; recovery repairs it from the file
}

// run patches the duration, syncs file and directory and only then marks
// the row complete, in that order, so a crash at any point leaves a file
// recovery can read and a row it can repair.
func (c *closing) run() {
	defer close(c.done)
	if testHookClose != nil {
		testHookClose(c)
	}
	err := patchMvhd(c.f, c.mvhdOff, c.dur)
	if err == nil {
		err = c.f.Sync()
	}
	if cerr := closeFile(c.cfg, c.f); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = SyncDir(c.dir)
	}
	if err != nil {
		c.err = fmt.Errorf("close %s: %w", c.path, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rowTimeout)
	defer cancel()
	if err := c.cfg.finishRow(ctx, c.ix, c.end); err != nil {
		c.err = fmt.Errorf("complete %s: %w", c.path, err)
		return
	}
	c.completed.Add(1)
}

// abandon closes the file after a storage error. Its row stays incomplete
// and is repaired from the file (truncated to its last whole part) as soon
// as writing works again, or at the next start.
func (s *segment) abandon() {
	for _, tw := range []*trackW{s.video, s.audio} {
		if tw != nil && tw.pending != nil {
			tw.pending.Release()
			tw.pending = nil
		}
	}
	if s.f != nil {
		_ = closeFile(&s.r.cfg, s.f)
		s.f = nil
	}
	if s.id != 0 {
		s.r.abandoned = append(s.r.abandoned, s.id)
		s.id = 0
	}
}
