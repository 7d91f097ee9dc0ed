package detect

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"lightnvr/pkg/go2rtc"
)

// Request asks for a picture of stream from go2rtc for an event at at. It
// never blocks: a request within snapshotGap of the stream's last
// snapshot, or beyond a full queue, is dropped.
func (s *Snapshots) Request(stream string, at time.Time) {
	if s.frames == nil || !s.due(stream, at) {
		return
	}
	select {
	case s.want <- snapshotWant{stream, at}:
	default:
		s.log.Debug("snapshot dropped: fetches queued", "stream", stream)
	}
}

// Run fetches the requested pictures until ctx ends. A slow go2rtc delays
// snapshots, never the caller of Request.
func (s *Snapshots) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-s.want:
			if err := s.fetch(ctx, w); err != nil && ctx.Err() == nil {
				s.log.Warn("no snapshot of the event", "stream", w.stream, "err", err)
			}
		}
	}
}

// fetch takes stream's picture from go2rtc and writes it, skipping the gap
// check the request already passed.
func (s *Snapshots) fetch(ctx context.Context, w snapshotWant) error {
	frame, err := frameJPEG(ctx, s.frames, w.stream)
	if err != nil {
		return err
	}
	_, err = s.write(w.stream, w.at, frame)
	return err
}

// frameJPEG is stream's current picture from go2rtc, checked to be a JPEG.
func frameJPEG(ctx context.Context, frames *go2rtc.Client, stream string) ([]byte, error) {
	fctx, cancel := context.WithTimeout(ctx, frameTimeout)
	defer cancel()
	frame, err := frames.Frame(fctx, stream)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(frame, jpegStart) {
		return nil, fmt.Errorf("frame of %q from go2rtc is not a JPEG (%d bytes)", stream, len(frame))
	}
	return frame, nil
}

// jpegStart is a JPEG's start-of-image marker.
var jpegStart = []byte{0xFF, 0xD8}
