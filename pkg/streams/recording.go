package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/media"
	"lightnvr/pkg/onvif"
	"lightnvr/pkg/record"
	"lightnvr/pkg/ringbuf"
)

// RecordingOptions configure the pipelines that pull each stream once from
// go2rtc and feed the recorder (and, later, the other subscribers of its hub).
type RecordingOptions struct {
	DB         *db.DB
	StorageDir string // [storage] path
	DirFormat  string // [storage] mp4_directory_format
	Logger     *slog.Logger
	// OnWrite is told the bytes each recorder writes and its stream (the
	// storage controller's Wrote), so a fast-filling disk or a stream past
	// its quota is noticed between heartbeats and passes.
	OnWrite func(stream string, n int64)
	// Bus carries the events that open and extend the clips of
	// detection-mode streams; without it those streams record nothing.
	Bus *event.Bus
	// RingDir holds each detection-mode stream's pre-event ring file
	// (page cache: a tmpfs spares the disk). Default <StorageDir>/prebuffer.
	RingDir string
	// RingMaxBytes caps one stream's ring. Default 32 MiB (60 s at 4 Mbit/s).
	RingMaxBytes int
	// RingTotalBytes caps all streams' rings together; a stream past it
	// gets a smaller ring (a shorter pre-event buffer), never no recording.
	// Default 128 MiB.
	RingTotalBytes int
	// Frames is go2rtc's API, where the external detector takes its frames,
	// and APIDetection the [api_detection] settings; without Frames no
	// stream runs the external detector.
	Frames       *go2rtc.Client
	APIDetection config.APIDetectionConfig
	// Location is the local time recording schedules are in; default
	// time.Local.
	Location *time.Location
	// Snapshots keeps the frames of the external detector's events; nil
	// keeps none.
	Snapshots *detect.Snapshots
	// ManualMax ends a manual recording nobody stops; default one hour.
	ManualMax time.Duration
	// ONVIFNotify takes the events of cameras that push them (no PullPoint);
	// nil follows PullPoint cameras only.
	ONVIFNotify *onvif.Consumers
}

// Recording builds ingest+record pipelines and keeps the running ones so the
// API can show each stream's ingest figures.
type Recording struct {
	opts  RecordingOptions
	log   *slog.Logger
	rings *ringbuf.Budget   // RingTotalBytes
	rows  *record.RowWriter // every recorder's rows written in shared rounds

	mu      sync.Mutex
	running map[string]*recordingPipeline
}

// NewRecording returns a pipeline builder; pass its Factory to the Manager.
func NewRecording(opts RecordingOptions) *Recording {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RingDir == "" {
		opts.RingDir = filepath.Join(opts.StorageDir, "prebuffer")
	}
	if opts.RingMaxBytes <= 0 {
		opts.RingMaxBytes = 32 << 20
	}
	if opts.RingTotalBytes <= 0 {
		opts.RingTotalBytes = 128 << 20
	}
	return &Recording{opts: opts, log: opts.Logger, rings: ringbuf.NewBudget(opts.RingTotalBytes),
		rows: record.NewRowWriter(opts.DB, opts.Logger), running: map[string]*recordingPipeline{}}
}

// Factory is the Manager's PipelineFactory.
func (r *Recording) Factory() PipelineFactory {
	return func(name string) Pipeline { return &recordingPipeline{owner: r, name: name} }
}

// PipelineStats are a running pipeline's ingest and recording figures.
type PipelineStats struct {
	media.Stats
	Recording      bool   // a recorder is attached
	RecorderState  string // waiting, recording, failing, closed
	RecorderError  string
	RecordingID    int64
	Segments       uint64
	RecorderDrops  uint64
	SubscriberLoss uint64
	Mode           Mode
	EventState     string // detection mode: idle, recording, post-buffer
	Clips          uint64 // detection mode: clips opened
	// Detector is the external detector's health; nil when the stream runs none.
	Detector *detect.ExternalStatus
}

// Stats reports the running pipeline of stream name.
func (r *Recording) Stats(name string) (PipelineStats, bool) {
	r.mu.Lock()
	p := r.running[name]
	r.mu.Unlock()
	if p == nil {
		return PipelineStats{}, false
	}
	return p.stats(), true
}

// Hub is the media hub of stream name's running pipeline, nil when it is
// not running: live viewers subscribe to it.
func (r *Recording) Hub(name string) *media.Hub {
	r.mu.Lock()
	p := r.running[name]
	r.mu.Unlock()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hub
}

// ReadPace is how often a pipeline reads its go2rtc session (see
// media.SourceConfig.ReadPace). Every consumer of the pull works in units
// of a second or more (1 s parts for the recorder and live HLS, a pre-event
// buffer of seconds, motion events that start and end over seconds), so
// 100 ms late (300 ms for a stream read alone) costs nothing a user sees;
// WebRTC and frame.jpeg come from go2rtc itself, not from this pull. The
// streams then wake the process together ten times a second instead of
// each once a frame: ingest took a quarter less CPU at 8 streams of
// 1080p25, a sixth less at 32.
const ReadPace = 100 * time.Millisecond

// openWait is how often OpenRecording looks for the file a trigger opened.
const openWait = 50 * time.Millisecond

// OpenRecording is the row of the file stream name is writing now: its
// continuous segment or, in detection mode, its event clip. It waits until
// ctx ends for one to be on disk (a clip a trigger just opened, a segment
// waiting for its keyframe), then returns ctx's error.
func (r *Recording) OpenRecording(ctx context.Context, name string) (int64, error) {
	for {
		r.mu.Lock()
		p := r.running[name]
		r.mu.Unlock()
		if p != nil {
			if id := p.openRecording(); id != 0 {
				return id, nil
			}
		}
		if err := backoff.Sleep(ctx, openWait); err != nil {
			return 0, fmt.Errorf("no recording of %s open: %w", name, err)
		}
	}
}

func (p *recordingPipeline) openRecording() int64 {
	p.mu.Lock()
	rec, clips := p.rec, p.clips
	p.mu.Unlock()
	switch {
	case rec != nil:
		return rec.Status().RecordingID
	case clips != nil:
		return clips.recordingID()
	}
	return 0
}

type recordingPipeline struct {
	owner *Recording
	name  string

	run runner

	mu     sync.Mutex
	src    *media.Source
	hub    *media.Hub
	rec    *record.Recorder
	recSub *media.Subscription
	recErr error
	mode   Mode
	clips  *eventClips
	ext    *detect.External
	// ctx and cfg are the running pipeline's, for manual recordings;
	// stopped is set when Stop begins (see startManual).
	ctx     context.Context
	cfg     StreamConfig
	stopped bool
	manual  *manualClip
}

func (p *recordingPipeline) Start(ctx context.Context, cfg StreamConfig) error {
	o := p.owner.opts
	log := p.owner.log.With("stream", p.name)
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{
		Name:     p.name,
		URL:      cfg.RTSPURL,
		Hub:      hub,
		NoAudio:  !cfg.Stream.RecordAudio,
		Logger:   log,
		ReadPace: ReadPace,
		OnState: func(st media.SourceState, err error) {
			if cfg.Report != nil {
				cfg.Report(Ingest{State: st, Err: err, Codec: videoCodec(hub.Desc())})
			}
		},
	})

	mode := ModeOf(&cfg.Stream)
	var rec *record.Recorder
	if mode.continuous() {
		var err error
		if rec, err = p.newRecorder(cfg, record.TriggerScheduled, cfg.Stream.RecordOnSchedule, log); err != nil {
			return err
		}
	}
	var clips *eventClips
	if mode.clips() {
		var err error
		if clips, err = p.newClips(cfg, log); err != nil {
			return err
		}
	}

	pctx, ok := p.run.launch(ctx)
	if !ok {
		if clips != nil {
			_ = clips.ring.Close()
		}
		return errors.New("pipeline already started")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.src, p.hub, p.rec, p.mode, p.clips = src, hub, rec, mode, clips
	p.ctx, p.cfg = pctx, cfg
	if clips != nil {
		// Subscribed before ingest starts: no event and no unit is missed.
		ring, events := hub.Subscribe("ring", 512), o.Bus.Subscribe(64)
		p.run.spawn(func() { clips.fill(pctx, ring) })
		p.run.spawn(func() { clips.run(pctx, events) })
	}
	if mode.detects() && o.Bus != nil {
		p.startDetectors(pctx, &cfg.Stream, hub, log)
	}
	p.run.spawn(func() { _ = src.Run(pctx) })
	if rec != nil {
		// A recorder falls behind only if the disk does; it then loses units, never ingest.
		sub := hub.Subscribe("record", 512)
		p.recSub = sub
		gate := newScheduleGate(cfg.Stream.RecordOnSchedule, cfg.Stream.RecordingSchedule, o.Location)
		p.run.spawn(func() {
			err := gate.record(pctx, rec, sub)
			p.mu.Lock()
			p.recErr = err
			p.mu.Unlock()
		})
	}

	p.owner.mu.Lock()
	p.owner.running[p.name] = p
	p.owner.mu.Unlock()
	return nil
}

// startDetectors runs the detectors stream s asks for, publishing on the bus.
// A detector loses frames, never time: motion owns one bounded hub
// subscription, the external detector fetches its frames from go2rtc.
// Called with p.mu held, before ingest starts.
func (p *recordingPipeline) startDetectors(ctx context.Context, s *db.Stream, hub *media.Hub, log *slog.Logger) {
	o := p.owner.opts
	if mc, ok := detect.MotionFor(s); ok {
		mc.DB = o.DB
		m, sub := detect.NewMotion(mc), hub.Subscribe("motion", 256)
		p.run.spawn(func() { _ = m.Run(ctx, sub, o.Bus) })
		log.Info("motion detection on", "sensitivity", mc.Sensitivity, "min_duration", mc.MinDuration)
	}
	if mc, ok := detect.SnapshotMotionFor(s); ok && o.Frames != nil {
		mc.DB = o.DB
		m := detect.NewSnapshotMotion(mc, o.Frames, log)
		p.run.spawn(func() { _ = m.Run(ctx, o.Bus) })
		log.Info("snapshot motion detection on", "sensitivity", mc.Sensitivity, "min_duration", mc.MinDuration)
	}
	if opt, ok := detect.ExternalFor(s, o.APIDetection); ok && o.Frames != nil {
		opt.Logger, opt.Snapshots, opt.DB = log, o.Snapshots, o.DB
		p.ext = detect.NewExternal(opt, o.Frames, o.Bus)
		p.run.spawn(func() { _ = p.ext.Run(ctx) })
		log.Info("external detector on", "url", logx.RedactURL(opt.URL), "interval", opt.Interval)
	}
	if opt, ok := onvif.EventsFor(s); ok {
		opt.Bus, opt.Logger, opt.Consumers = o.Bus, log, o.ONVIFNotify
		p.run.spawn(func() { _ = onvif.RunEvents(ctx, opt) })
		log.Info("camera (ONVIF) events on", "device", opt.DeviceURL)
	}
}

// newClips sets up a detection-mode stream's ring and clips; nil without an
// event bus.
func (p *recordingPipeline) newClips(cfg StreamConfig, log *slog.Logger) (*eventClips, error) {
	o := p.owner.opts
	if o.Bus == nil {
		log.Warn("detection-based recording without an event bus: no clips")
		return nil, nil
	}
	if err := os.MkdirAll(o.RingDir, 0o755); err != nil {
		return nil, fmt.Errorf("pre-event buffer directory: %w", err)
	}
	ec, err := newEventClips(p, cfg, o.RingDir, ringbuf.Config{MaxBytes: o.RingMaxBytes, Budget: p.owner.rings},
		func() (*record.Recorder, error) {
			return p.newRecorder(cfg, record.TriggerDetection, cfg.Stream.DetectionRecordOnSchedule, log)
		})
	if err != nil {
		return nil, err
	}
	return ec, nil
}

// newRecorder is the stream's recorder for segments (TriggerScheduled) or
// event clips (TriggerDetection); restricted when a recording schedule
// governs them.
func (p *recordingPipeline) newRecorder(cfg StreamConfig, trigger string, restricted bool, log *slog.Logger) (*record.Recorder, error) {
	o := p.owner.opts
	var onWrite func(int64)
	if o.OnWrite != nil {
		onWrite = func(n int64) { o.OnWrite(p.name, n) }
	}
	rec, err := record.New(record.Config{
		Stream:             p.name,
		StorageDir:         o.StorageDir,
		DB:                 o.DB,
		TriggerType:        trigger,
		ScheduleRestricted: restricted,
		Logger:             log,
		SegmentDuration:    time.Duration(cfg.Stream.SegmentDuration) * time.Second,
		NoAudio:            !cfg.Stream.RecordAudio,
		OnWrite:            onWrite,
		DirFormat:          o.DirFormat,
		RowWriter:          p.owner.rows,
	})
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	return rec, nil
}

// videoCodec names d's video codec as the probe does ("H264"), "" without video.
func videoCodec(d *media.Desc) string {
	if d == nil || d.Video == nil {
		return ""
	}
	return strings.ToUpper(string(d.Video.Codec))
}

func (p *recordingPipeline) Stop(ctx context.Context) error {
	p.owner.mu.Lock()
	if p.owner.running[p.name] == p {
		delete(p.owner.running, p.name)
	}
	p.owner.mu.Unlock()
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()

	if launched, err := p.run.stop(ctx, "pipeline "+p.name); !launched || err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hub.Close()
	return p.recErr
}

func (p *recordingPipeline) Wake() {
	p.mu.Lock()
	src := p.src
	p.mu.Unlock()
	if src != nil {
		src.Wake()
	}
}

func (p *recordingPipeline) stats() PipelineStats {
	p.mu.Lock()
	src, rec, sub, clips, ext := p.src, p.rec, p.recSub, p.clips, p.ext
	ps := PipelineStats{Mode: p.mode}
	p.mu.Unlock()
	if ext != nil {
		st := ext.Status()
		ps.Detector = &st
	}
	if clips != nil {
		ps.EventState, ps.Clips = clips.state(), clips.clips.Load()
	}
	if src != nil {
		ps.Stats = src.Stats()
	}
	if rec != nil {
		rs := rec.Status()
		ps.Recording = true
		ps.RecorderState = string(rs.State)
		if rs.Err != nil {
			ps.RecorderError = rs.Err.Error()
		}
		ps.RecordingID = rs.RecordingID
		ps.Segments = rs.Segments
		ps.RecorderDrops = rs.Dropped
	}
	if sub != nil {
		ps.SubscriberLoss = sub.Dropped()
	}
	return ps
}
