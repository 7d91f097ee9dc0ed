package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/record"
)

// RecordingOptions configure the pipelines that pull each stream once from
// go2rtc and feed the recorder (and, later, the other subscribers of its hub).
type RecordingOptions struct {
	DB         *db.DB
	StorageDir string // [storage] path
	Logger     *slog.Logger
	// OnWrite is told the bytes each recorder writes (the storage
	// controller's Wrote), so a fast-filling disk is noticed between its
	// heartbeats.
	OnWrite func(n int64)
}

// Recording builds ingest+record pipelines and keeps the running ones so the
// API can show each stream's ingest figures.
type Recording struct {
	opts RecordingOptions
	log  *slog.Logger

	mu      sync.Mutex
	running map[string]*recordingPipeline
}

// NewRecording returns a pipeline builder; pass its Factory to the Manager.
func NewRecording(opts RecordingOptions) *Recording {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Recording{opts: opts, log: opts.Logger, running: map[string]*recordingPipeline{}}
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
}

func (p *recordingPipeline) Start(ctx context.Context, cfg StreamConfig) error {
	o := p.owner.opts
	log := p.owner.log.With("stream", p.name)
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{
		Name:    p.name,
		URL:     cfg.RTSPURL,
		Hub:     hub,
		NoAudio: !cfg.Stream.RecordAudio,
		Logger:  log,
		OnState: func(st media.SourceState, err error) {
			if cfg.Report != nil {
				cfg.Report(Ingest{State: st, Err: err, Codec: videoCodec(hub.Desc())})
			}
		},
	})

	var rec *record.Recorder
	if ModeOf(&cfg.Stream).continuous() {
		seg := time.Duration(cfg.Stream.SegmentDuration) * time.Second
		var err error
		rec, err = record.New(record.Config{
			Stream:          p.name,
			StorageDir:      o.StorageDir,
			DB:              o.DB,
			TriggerType:     record.TriggerScheduled,
			Logger:          log,
			SegmentDuration: seg,
			NoAudio:         !cfg.Stream.RecordAudio,
			OnWrite:         o.OnWrite,
		})
		if err != nil {
			return fmt.Errorf("recorder: %w", err)
		}
	}

	pctx, ok := p.run.launch(ctx)
	if !ok {
		return errors.New("pipeline already started")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.src, p.hub, p.rec = src, hub, rec
	p.run.spawn(func() { _ = src.Run(pctx) })
	if rec != nil {
		// A recorder falls behind only if the disk does; it then loses units, never ingest.
		sub := hub.Subscribe("record", 512)
		p.recSub = sub
		p.run.spawn(func() {
			err := rec.Run(pctx, sub)
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
	src, rec, sub := p.src, p.rec, p.recSub
	p.mu.Unlock()
	var ps PipelineStats
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
