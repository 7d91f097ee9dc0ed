package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/media"
)

// ProbeResult is what a probe saw of a stream.
type ProbeResult struct {
	// Codec of the first video track ("H264", "H265", ...), "" without video.
	Codec string
	// Width, Height and FPS come from the SPS in the track list, 0 when unknown.
	Width, Height int
	FPS           float64
	// FirstKeyframe is when the first random access unit (or, for codecs
	// without that notion, the first packet) arrived.
	FirstKeyframe time.Time
}

// ProbeKeyframe reads rtspURL (go2rtc's loopback restream of a stream) over
// RTSP/TCP until the first keyframe arrives, then hangs up.
//
// This is our definition of "active" while no recording pipeline holds the
// stream: go2rtc connects to a camera only when someone reads the stream, and
// answers DESCRIBE only after the camera delivered its track list, so a keyframe
// through go2rtc proves the whole path camera → go2rtc → us works. Counters in
// go2rtc's stream list only move while a reader exists, so they cannot tell
// that on their own.
func ProbeKeyframe(ctx context.Context, rtspURL string) (ProbeResult, error) {
	var res ProbeResult
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), 100*time.Millisecond)
	}
	conn, err := media.Dial(ctx, rtspURL, "lightnvr-probe", timeout)
	if err != nil {
		return res, fmt.Errorf("probe: %w", err)
	}
	defer conn.Close()
	c, desc := conn.Client, conn.Desc
	if len(desc.Medias) == 0 {
		return res, errors.New("source has no media tracks")
	}
	var video *description.Media
	for _, m := range desc.Medias {
		if m.Type == description.MediaTypeVideo {
			video = m
			break
		}
	}
	medias := desc.Medias
	if video != nil {
		medias = []*description.Media{video}
		res.Codec = media.FormatName(video.Formats[0])
		res.Width, res.Height, res.FPS = spsInfo(video.Formats[0])
	}
	if err := c.SetupAll(desc.BaseURL, medias); err != nil {
		return res, fmt.Errorf("probe: setup: %w", ctxErr(ctx, err))
	}

	got := make(chan time.Time, 1)
	signal := func() {
		select {
		case got <- time.Now():
		default:
		}
	}
	for _, m := range medias {
		for _, f := range m.Formats {
			c.OnPacketRTP(m, f, keyframeDetector(f, signal))
		}
	}
	if _, err := c.Play(nil); err != nil {
		return res, fmt.Errorf("probe: play: %w", ctxErr(ctx, err))
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	select {
	case t := <-got:
		res.FirstKeyframe = t
		return res, nil
	case err := <-waitErr:
		if ctx.Err() != nil {
			return res, fmt.Errorf("no keyframe from source: %w", ctx.Err())
		}
		return res, fmt.Errorf("source stopped before its first keyframe: %w", err)
	}
}

// keyframeDetector returns an RTP callback that calls signal at the first
// random access unit of f.
func keyframeDetector(f format.Format, signal func()) func(*rtp.Packet) {
	var decode func(*rtp.Packet) ([][]byte, error)
	var key func([][]byte) bool
	switch f := f.(type) {
	case *format.H264:
		if dec, err := f.CreateDecoder(); err == nil {
			decode, key = dec.Decode, h264.IsRandomAccess
		}
	case *format.H265:
		if dec, err := f.CreateDecoder(); err == nil {
			decode, key = dec.Decode, h265.IsRandomAccess
		}
	}
	if decode == nil {
		return func(*rtp.Packet) { signal() }
	}
	return func(p *rtp.Packet) {
		if au, err := decode(p); err == nil && key(au) {
			signal()
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func spsInfo(f format.Format) (w, h int, fps float64) {
	switch f := f.(type) {
	case *format.H264:
		var sps h264.SPS
		if f.SPS != nil && sps.Unmarshal(f.SPS) == nil {
			return sps.Width(), sps.Height(), sps.FPS()
		}
	case *format.H265:
		var sps h265.SPS
		if f.SPS != nil && sps.Unmarshal(f.SPS) == nil {
			return sps.Width(), sps.Height(), sps.FPS()
		}
	}
	return 0, 0, 0
}

// probePipeline is the pipeline of a manager without a recording factory: it
// proves the stream with a keyframe probe every CheckInterval, and after a
// failed probe tries again with backoff.
type probePipeline struct {
	every, timeout time.Duration
	wait           backoff.Backoff

	wake chan struct{}
	run  runner
}

func newProbePipeline(every, timeout time.Duration) *probePipeline {
	return &probePipeline{every: every, timeout: timeout, wake: make(chan struct{}, 1),
		wait: backoff.Backoff{Min: time.Second, Max: time.Minute}}
}

func (p *probePipeline) Start(ctx context.Context, cfg StreamConfig) error {
	ctx, ok := p.run.launch(ctx)
	if !ok {
		return errors.New("pipeline already started")
	}
	p.run.spawn(func() {
		for p.probe(ctx, cfg) {
		}
	})
	return nil
}

// probe proves the stream once, reports the outcome and waits for the next
// probe; it returns false when ctx ended.
func (p *probePipeline) probe(ctx context.Context, cfg StreamConfig) bool {
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	res, err := ProbeKeyframe(pctx, cfg.RTSPURL)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	in, next := Ingest{State: media.SourcePlaying, Codec: res.Codec}, p.every
	if err != nil {
		in, next = Ingest{State: media.SourceReconnecting, Err: err}, p.wait.Next()
	} else {
		p.wait.Reset()
	}
	cfg.Report(in)
	wctx, cancel := context.WithTimeout(ctx, next)
	defer cancel()
	select {
	case <-wctx.Done():
	case <-p.wake:
	}
	return ctx.Err() == nil
}

func (p *probePipeline) Stop(ctx context.Context) error {
	_, err := p.run.stop(ctx, "probe")
	return err
}

func (p *probePipeline) Wake() { poke(p.wake) }
