// Package record writes a stream's access units into crash-safe fMP4
// segments (ftyp+moov, then one moof+mdat per second), indexes their parts
// in SQLite, repairs interrupted segments at boot and deletes recordings
// through a garbage table. It knows nothing of HTTP.
package record

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
)

// Trigger types, as stored in recordings.trigger_type.
const (
	TriggerScheduled = "scheduled" // continuous or scheduled recording
	TriggerDetection = "detection"
	TriggerMotion    = "motion"
	TriggerManual    = "manual"
)

// Config configures a Recorder for one stream.
type Config struct {
	Stream      string // stream name (the recordings.stream_name key)
	StorageDir  string // [storage] path; files go under <StorageDir>/mp4/
	DB          *db.DB
	TriggerType string // default TriggerScheduled
	// ScheduleRestricted marks the recordings as made under a recording
	// schedule (recordings.schedule_restricted): LightNVR then reports
	// scheduled segments as capture_method "scheduled", not "continuous".
	ScheduleRestricted bool
	Logger             *slog.Logger

	// SegmentDuration is the minimum length of a segment: a new one starts
	// at the first keyframe after it. Default 900 s (LightNVR's default).
	SegmentDuration time.Duration
	// PartDuration is the media time per moof+mdat, and so the most a
	// crash can lose. Default 1 s.
	PartDuration time.Duration
	// MaxGap is the largest forward timestamp step taken as continuous;
	// a bigger jump (or any step back) starts a new segment. Default 3 s.
	MaxGap time.Duration
	// IndexInterval bounds how often the part index of the open segment
	// is written to SQLite. Default 5 s; 0 keeps the default, the index
	// is always complete at close and rebuilt from the file by recovery.
	IndexInterval time.Duration
	// NoSync skips the fdatasync after every part (the file and its
	// directory are still synced at close). Only for benchmarks.
	NoSync bool
	// Sync makes a written part durable; fdatasync when nil. Tests set it
	// to hold a write inside the sync, as a slow disk does.
	Sync func(*os.File) error
	// RowWriter, when set, writes the recorder's rows (a new segment's,
	// a closed one's completion, the part indexes) in rounds shared by
	// every recorder using it, instead of transactions of its own; parts
	// are made durable by Sync right after they are written either way.
	RowWriter *RowWriter
	// NoAudio records video only.
	NoAudio bool
	// DirFormat is [storage] mp4_directory_format (DirFlat, DirYearMonth,
	// DirYearMonthDay; "" is the last).
	DirFormat string
	// OnWrite, when set, is called with the bytes of each part (and init)
	// once written, from the recorder's goroutine; it must not block. The
	// storage controller's Wrote: it reads the disk again when it fills
	// faster than its heartbeat.
	OnWrite func(n int64)
	// Backoff bounds the wait between attempts to open a segment after a
	// storage error (1 s to 30 s).
	Backoff backoff.Backoff
}

// State is the recorder's condition, for the stream manager and the UI.
type State string

// States of a Recorder.
const (
	StateWaiting   State = "waiting"   // for a keyframe with known parameter sets
	StateRecording State = "recording" // a segment is open
	StateFailing   State = "failing"   // storage error; units are dropped until a retry succeeds
	StateClosed    State = "closed"
)

// Status is a snapshot of a Recorder.
type Status struct {
	State       State
	Err         error     // last storage error; nil once recording again
	ErrSince    time.Time // when the current failure began
	RecordingID int64     // row of the open segment, 0 if none on disk yet
	Path        string    // file of the open segment
	Segments    uint64    // segments completed
	Dropped     uint64    // units dropped (waiting for a keyframe, failing, out of order)
}

// Recorder turns units into segments. Write and Close are called by one
// owner goroutine; Status may be called from anywhere and never waits for
// the disk.
type Recorder struct {
	cfg Config
	log *slog.Logger

	// status is the snapshot Status returns, replaced after every change
	// under mu: readers take no lock a write holds across fdatasync and SQLite.
	status atomic.Pointer[Status]

	mu        sync.Mutex
	seg       *segment
	state     State
	err       error
	errSince  time.Time
	retryAt   time.Time
	retry     backoff.Backoff
	dropped   uint64
	lastVideo *media.Unit // last video unit accepted, for continuity checks
	lastVSeq  uint64
	abandoned []int64 // rows left incomplete by a storage error, repaired once writing works again

	// closing is the segment the closer is completing, nil when none; at
	// most one is in flight, so a slow disk delays closes, never piles them up.
	closing  *closing
	segments atomic.Uint64 // segments completed; the closer counts them

	scratch scratch // buffers reused across parts and segments
	// parts are the open part's video and audio payloads; allocated apart
	// from the recorder so a cleanup can unmap them if it is never closed.
	parts *[2]partBuf
}

// New returns a recorder; nothing is written until a keyframe arrives.
func New(cfg Config) (*Recorder, error) {
	if cfg.Stream == "" || cfg.StorageDir == "" || cfg.DB == nil {
		return nil, errors.New("record: stream, storage dir and database are required")
	}
	if cfg.TriggerType == "" {
		cfg.TriggerType = TriggerScheduled
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SegmentDuration <= 0 {
		cfg.SegmentDuration = 900 * time.Second
	}
	if cfg.PartDuration <= 0 {
		cfg.PartDuration = time.Second
	}
	if cfg.MaxGap <= 0 {
		cfg.MaxGap = 3 * time.Second
	}
	if cfg.IndexInterval <= 0 {
		cfg.IndexInterval = 5 * time.Second
	}
	cfg.Backoff = cfg.Backoff.Or(backoff.Backoff{Min: time.Second, Max: 30 * time.Second})
	if cfg.Sync == nil {
		cfg.Sync = fdatasync
	}
	r := &Recorder{cfg: cfg, log: cfg.Logger.With("stream", cfg.Stream), state: StateWaiting, retry: cfg.Backoff,
		parts: &[2]partBuf{{size: videoPartSize}, {size: audioPartSize}}}
	runtime.AddCleanup(r, freeParts, r.parts)
	r.publish()
	return r, nil
}

func freeParts(p *[2]partBuf) {
	for i := range p {
		p[i].free()
	}
}

func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// Status returns the recorder's state as of its last change.
func (r *Recorder) Status() Status {
	st := *r.status.Load()
	st.Segments = r.segments.Load()
	return st
}

// publish replaces the status snapshot when it changed; called with r.mu held.
// It runs for every unit, so only a change allocates a snapshot.
func (r *Recorder) publish() {
	st := Status{State: r.state, Err: r.err, ErrSince: r.errSince, Dropped: r.dropped}
	if r.seg != nil {
		st.RecordingID, st.Path = r.seg.id, r.seg.path
	}
	if cur := r.status.Load(); cur == nil || !cur.same(st) {
		snap := st
		r.status.Store(&snap)
	}
}

func (a Status) same(b Status) bool {
	ea, eb := a.Err, b.Err
	a.Err, b.Err = nil, nil
	// Errors compare by message: their dynamic types need not be comparable.
	return a == b && (ea == nil) == (eb == nil) && (ea == nil || ea.Error() == eb.Error())
}

// Run writes every unit of sub until ctx ends or the subscription closes,
// then closes the recorder.
func (r *Recorder) Run(ctx context.Context, sub *media.Subscription) error {
	defer func() { _ = r.Close() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-sub.C():
			if !ok {
				return nil
			}
			r.Write(u)
		}
	}
}

// Write adds one unit. Units may be from the past (a pre-event buffer
// replayed from its keyframe): only their own timestamps matter. Write
// never fails: problems end the segment, show in Status and are retried.
// It takes over the caller's reference to u's payload (media.Unit.Release):
// the caller must not read the payload after it.
func (r *Recorder) Write(u *media.Unit) {
	if u == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.publish()
	if r.state == StateClosed || u.Track == nil || u.Desc == nil {
		u.Release()
		return
	}
	if r.closing != nil {
		r.reap(false)
	}
	video := u.IsVideo()
	if !video && (r.cfg.NoAudio || u.Desc.Audio != u.Track) {
		u.Release()
		return
	}

	if r.seg != nil {
		if reason := r.discontinuity(u, video); reason != "" {
			end := int64(-1)
			if video && u.Key && r.seg.continues(u) {
				end = u.DTS // a keyframe right after the last frame: no gap between the segments
			}
			r.log.Info("starting a new segment", "reason", reason)
			r.closeSegment(end)
		}
	}
	if video {
		r.lastVideo, r.lastVSeq = u, u.Seq
	}

	if r.seg == nil {
		if !r.canStart(u, video) {
			r.dropped++
			u.Release()
			return
		}
		r.seg = newSegment(r, u)
		if r.state != StateFailing {
			r.state = StateRecording // a failing recorder recovers at its first part on disk
		}
	} else if video && u.Key && r.seg.fromVideo(u.DTS-r.seg.startDTS) >= r.cfg.SegmentDuration {
		r.closeSegment(u.DTS)
		r.seg = newSegment(r, u)
		if r.state != StateFailing {
			r.state = StateRecording
		}
	}

	if err := r.seg.write(u); err != nil {
		r.fail(err)
	}
}

// discontinuity returns why u cannot continue the open segment, or "".
func (r *Recorder) discontinuity(u *media.Unit, video bool) string {
	s := r.seg
	if u.Desc != s.desc {
		// New parameter sets, a new codec or a new RTSP session.
		return "stream description changed"
	}
	if !video {
		return ""
	}
	last := r.lastVideo
	if last == nil {
		return ""
	}
	if u.Seq != r.lastVSeq+1 && u.Desc == last.Desc {
		return "video units lost"
	}
	if u.DTS <= last.DTS {
		return "timestamp went back"
	}
	if s.fromVideo(u.DTS-last.DTS) > r.cfg.MaxGap {
		return "timestamp jumped"
	}
	return ""
}

// canStart reports whether a segment may begin with u.
func (r *Recorder) canStart(u *media.Unit, video bool) bool {
	d := u.Desc
	if d.Video != nil {
		if !video || !u.Key || !d.Video.Ready() {
			return false
		}
	} else if !d.Audio.Ready() {
		return false
	}
	if r.state == StateFailing && time.Now().Before(r.retryAt) {
		return false
	}
	return true
}

// fail abandons the open segment after a storage error and schedules a
// retry with backoff.
func (r *Recorder) fail(err error) {
	if r.seg != nil {
		r.seg.abandon()
		r.seg = nil
	}
	wait := r.retry.Next()
	if r.state != StateFailing {
		r.errSince = time.Now()
		r.log.Error("recording failed, will retry", "err", err, "retry_in", wait)
	}
	r.state = StateFailing
	r.err = err
	r.retryAt = time.Now().Add(wait)
}

// recovered is called when a segment's first part reached the disk.
func (r *Recorder) recovered() {
	if r.state == StateFailing || r.err != nil {
		r.log.Info("recording again", "after", time.Since(r.errSince).Round(time.Millisecond))
	}
	r.state = StateRecording
	r.err = nil
	r.errSince = time.Time{}
	r.retry.Reset()
}

// closeSegment finishes the open segment: its media is durable when this
// returns, and the closer completes it (see segment.finish) while the next
// segment is written. endDTS (video ticks) is where it ends, or -1 if
// unknown (the last sample gets the previous duration).
func (r *Recorder) closeSegment(endDTS int64) {
	s := r.seg
	r.seg = nil
	if s == nil {
		return
	}
	c, err := s.finish(endDTS)
	if err != nil {
		r.fail(err)
		return
	}
	if r.state != StateFailing {
		r.state = StateWaiting
	}
	if c == nil {
		return
	}
	if r.closing != nil {
		r.reap(true)
	}
	r.closing = c
	go c.run()
}

// reap takes the closer's result once it is done, waiting for it if wait.
// A close that failed leaves its row to be repaired from the file, like a
// segment abandoned on a storage error; the segment being written is not
// affected, its own writes show whether the disk still works.
func (r *Recorder) reap(wait bool) {
	c := r.closing
	if wait {
		<-c.done
	} else {
		select {
		case <-c.done:
		default:
			return
		}
	}
	r.closing = nil
	if c.err != nil {
		r.log.Error("recording not completed, will repair it from the file", "id", c.id, "err", c.err)
		r.abandoned = append(r.abandoned, c.id)
	}
}

// Close finishes the open segment; the recorder then ignores Write.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.publish()
	if r.state == StateClosed {
		return nil
	}
	r.closeSegment(-1)
	if r.closing != nil {
		r.reap(true)
	}
	freeParts(r.parts)
	err := r.err
	r.state = StateClosed
	if err != nil {
		return fmt.Errorf("record %s: %w", r.cfg.Stream, err)
	}
	return nil
}

// Cut ends the open segment now (at its last unit); the next keyframe
// starts a new one.
func (r *Recorder) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.publish()
	if r.state != StateClosed {
		r.closeSegment(-1)
	}
}
