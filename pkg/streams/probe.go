package streams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"
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
	u, err := base.ParseURL(rtspURL)
	if err != nil {
		return res, fmt.Errorf("probe: parse url: %w", err)
	}
	tcp := gortsplib.ProtocolTCP
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), 100*time.Millisecond)
	}
	c := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		Protocol:     &tcp,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		UserAgent:    "lightnvr-probe",
		DialContext:  (&net.Dialer{}).DialContext,
	}
	if err := c.Start(); err != nil {
		return res, fmt.Errorf("probe: connect to go2rtc: %w", err)
	}
	// Close unblocks every call below when ctx ends first.
	stop := context.AfterFunc(ctx, c.Close)
	defer func() {
		stop()
		c.Close()
	}()

	desc, _, err := c.Describe(u)
	if err != nil {
		return res, describeError(ctx, err)
	}
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
		res.Codec = video.Formats[0].Codec()
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
	switch f := f.(type) {
	case *format.H264:
		dec, err := f.CreateDecoder()
		if err != nil {
			return func(*rtp.Packet) { signal() }
		}
		return func(p *rtp.Packet) {
			if au, err := dec.Decode(p); err == nil && h264.IsRandomAccess(au) {
				signal()
			}
		}
	case *format.H265:
		dec, err := f.CreateDecoder()
		if err != nil {
			return func(*rtp.Packet) { signal() }
		}
		return func(p *rtp.Packet) {
			if au, err := dec.Decode(p); err == nil && h265.IsRandomAccess(au) {
				signal()
			}
		}
	}
	return func(*rtp.Packet) { signal() }
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// describeError explains go2rtc's DESCRIBE failures: it answers 404 when it could
// not open the source (camera unreachable, refused, wrong URL or credentials).
func describeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("source gave no track list in time: %w", ctx.Err())
	}
	msg := err.Error()
	if strings.Contains(msg, "404") {
		return errors.New("go2rtc could not open the source (camera unreachable, refused, wrong URL or credentials)")
	}
	return fmt.Errorf("probe: describe: %w", err)
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
