package media

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// FirstKeyframe plays rawURL until its first video keyframe arrives (the
// first packet, when the stream has no H.264/H.265 video) and returns the
// stream's track list and the time that frame arrived. Only the video
// track is set up when there is one. timeout bounds each request; the end
// of ctx ends the wait.
func FirstKeyframe(ctx context.Context, rawURL, userAgent string, timeout time.Duration) (*description.Session, time.Time, error) {
	sess, err := dialSession(ctx, rawURL, userAgent, timeout)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer sess.Close()
	desc := sess.desc
	if len(desc.Medias) == 0 {
		return desc, time.Time{}, errors.New("source has no media tracks")
	}
	medias := desc.Medias
	if i := slices.IndexFunc(medias, func(m *description.Media) bool { return m.Type == description.MediaTypeVideo }); i >= 0 {
		medias = medias[i : i+1]
	}
	var chans []int
	for i, m := range medias {
		ch, err := sess.setup(m, i)
		if err != nil {
			return desc, time.Time{}, ctxErr(ctx, err)
		}
		chans = append(chans, ch)
	}
	var dec *depacketizer
	var codec Codec
	switch medias[0].Formats[0].(type) {
	case *format.H264:
		codec = CodecH264
	case *format.H265:
		codec = CodecH265
	}
	if codec != "" {
		dec = newDepacketizer(codec)
	}
	if err := sess.play(); err != nil {
		return desc, time.Time{}, ctxErr(ctx, err)
	}
	var p rtp.Packet
	for {
		ch, b, err := sess.readFrame()
		if err != nil {
			if ctx.Err() != nil {
				return desc, time.Time{}, fmt.Errorf("no keyframe from source: %w", ctx.Err())
			}
			return desc, time.Time{}, fmt.Errorf("source stopped before its first keyframe: %w", err)
		}
		if !slices.Contains(chans, ch) || p.Unmarshal(b) != nil {
			continue // RTCP, or not RTP
		}
		if dec == nil {
			return desc, time.Now(), nil
		}
		if au, err := dec.Decode(&p); err == nil && isKey(codec, au) {
			return desc, time.Now(), nil
		}
	}
}

// ctxErr prefers the context's end to the error it caused (a connection
// closed under a request).
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
