package streams

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"

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
	desc, first, err := media.FirstKeyframe(ctx, rtspURL, "lightnvr-probe", timeout)
	if desc != nil {
		for _, m := range desc.Medias {
			if m.Type == description.MediaTypeVideo {
				res.Codec = media.FormatName(m.Formats[0])
				res.Width, res.Height, res.FPS = media.FormatPicture(m.Formats[0])
				break
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("probe: %w", err)
	}
	res.FirstKeyframe = first
	return res, nil
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
