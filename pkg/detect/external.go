package detect

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/logx"
)

// ExternalOptions configure the external detector of one stream.
type ExternalOptions struct {
	// Stream is the go2rtc stream whose frames are sent.
	Stream string
	// URL is the detector's endpoint (LightNVR's [api_detection] contract).
	URL string
	// Backend is passed to the detector as ?backend=; "" leaves it out.
	Backend string
	// Threshold is the minimum confidence (0..1) of a detection kept; it is
	// also sent to the detector as confidence_threshold.
	Threshold float64
	// Interval is the time from the start of one round to the start of the
	// next; at least one second.
	Interval time.Duration
	// Timeout bounds the post to the detector; default 10 s.
	Timeout time.Duration
	// Backoff is the wait after a failed round; Min defaults to Interval and
	// Max to 5 minutes, so a dead detector is asked less and less often.
	Backoff backoff.Backoff
	Logger  *slog.Logger
	// Snapshots keeps the frames of the events; nil keeps none.
	Snapshots *Snapshots
	// DB holds the stream's zones and object filter, read afresh each
	// round: only the boxes they keep are published and only a frame with
	// one is kept. Nil publishes every box at or above the threshold.
	DB *db.DB
}

const (
	// minInterval keeps a detection_interval of 0 from posting frames in a loop.
	minInterval = time.Second
	// frameTimeout bounds go2rtc's frame.jpeg, which connects the camera and
	// decodes a keyframe when nobody watches the stream.
	frameTimeout = 15 * time.Second
)

// ExternalFor returns the options of stream s's external detector from its
// row and [api_detection]; ok is false when s's detection_model does not ask
// for one. The model "api" (or LightNVR's "api-detection") uses the stream's
// detection_api_url, else [api_detection] url; a model that is itself an
// http(s) URL is the detector. A threshold of 0 means [api_detection]'s.
// Whether the stream detects at all (its recording mode) is the caller's
// decision.
func ExternalFor(s *db.Stream, cfg config.APIDetectionConfig) (opt ExternalOptions, ok bool) {
	u := detectorURL(s, cfg)
	if u == "" {
		return opt, false
	}
	opt = ExternalOptions{
		Stream:    s.Name,
		URL:       u,
		Backend:   cfg.Backend,
		Threshold: s.DetectionThreshold,
		Interval:  time.Duration(s.DetectionInterval) * time.Second,
		Timeout:   time.Duration(cfg.Timeout) * time.Second,
	}
	if opt.Threshold <= 0 {
		opt.Threshold = float64(cfg.DetectionThreshold) / 100
	}
	return opt, true
}

func detectorURL(s *db.Stream, cfg config.APIDetectionConfig) string {
	model := strings.TrimSpace(s.DetectionModel)
	switch strings.ToLower(model) {
	case "api", "api-detection":
		if u := strings.TrimSpace(s.DetectionAPIURL); u != "" {
			return u
		}
		return cfg.URL
	}
	if u, err := url.Parse(model); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return model
	}
	return ""
}

func (o ExternalOptions) withDefaults() ExternalOptions {
	o.Interval = max(o.Interval, minInterval)
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	o.Backoff = o.Backoff.Or(backoff.Backoff{Min: o.Interval, Max: 5 * time.Minute})
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// External runs one stream's external detector: every Interval it takes the
// stream's picture from go2rtc, posts it to the detector and publishes what
// the detector saw at or above the threshold as a SourceDetector event. It
// holds nothing the recorder waits on, so a detector that hangs or answers
// garbage costs detections, never recording.
type External struct {
	opt    ExternalOptions
	frames *go2rtc.Client
	bus    *event.Bus
	post   *poster
	log    *slog.Logger

	mu     sync.Mutex
	status ExternalStatus
}

// NewExternal returns a stopped detector for opt.Stream; frames is the
// go2rtc client (with its credentials), bus where events go. Call Run.
func NewExternal(opt ExternalOptions, frames *go2rtc.Client, bus *event.Bus) *External {
	opt = opt.withDefaults()
	return &External{
		opt:    opt,
		frames: frames,
		bus:    bus,
		post:   newPoster(opt),
		log:    opt.Logger.With("stream", opt.Stream, "detector", logx.RedactURL(opt.URL)),
		status: ExternalStatus{State: ExternalStarting, URL: logx.RedactURL(opt.URL)},
	}
}

// Run detects until ctx ends and returns ctx's error.
func (x *External) Run(ctx context.Context) error {
	wait := x.opt.Backoff
	defer x.post.close()
	for {
		start := time.Now()
		n, err := x.round(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			x.failed(err)
			if wait.Wait(ctx) != nil {
				return ctx.Err()
			}
			continue
		}
		x.succeeded(n)
		wait.Reset()
		if backoff.Sleep(ctx, x.opt.Interval-time.Since(start)) != nil {
			return ctx.Err()
		}
	}
}

// round sends one frame and publishes what comes back; n is the number of
// detections published.
func (x *External) round(ctx context.Context) (n int, err error) {
	frame, err := frameJPEG(ctx, x.frames, x.opt.Stream)
	if err != nil {
		return 0, err
	}
	at := time.Now()
	dets, err := x.post.detect(ctx, frame)
	if err != nil {
		return 0, err
	}
	if dets, err = keepByRules(ctx, x.opt.DB, x.opt.Stream, strongest(dets, x.opt.Threshold)); err != nil {
		return 0, err
	}
	if len(dets) > 0 {
		x.bus.Publish(event.Event{Stream: x.opt.Stream, Time: at, Source: event.SourceDetector, Detections: dets,
			Snapshot: x.snapshot(at, frame)})
	}
	return len(dets), nil
}

// snapshot keeps the frame the detector saw, so the event's picture is the
// one its boxes were drawn on; "" when none is kept.
func (x *External) snapshot(at time.Time, frame []byte) string {
	if x.opt.Snapshots == nil {
		return ""
	}
	path, err := x.opt.Snapshots.Save(x.opt.Stream, at, frame)
	if err != nil {
		x.log.Warn("event snapshot not kept", "err", err)
	}
	return path
}
