package streams

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"lightnvr/pkg/media"
)

// ErrorCounts counts a stream's ingest failures since lightnvr started (a
// session lost, or an attempt that never played), by LightNVR's error
// types.
type ErrorCounts struct {
	Decode   int // the media could not be parsed or has no usable track
	Timeout  int // nothing arrived in time
	Protocol int // the server refused or answered wrongly
	IO       int // the connection failed or was cut
}

func (c *ErrorCounts) add(err error) {
	switch errorKind(err) {
	case "decode":
		c.Decode++
	case "timeout":
		c.Timeout++
	case "io":
		c.IO++
	default:
		c.Protocol++
	}
}

// errorKind sorts an ingest failure into decode, timeout, io or protocol.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, media.ErrSourceUnavailable):
		return "protocol"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "io"
	}
	// The RTSP client and the media parser wrap their failures as text.
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "timeout"), strings.Contains(msg, "timed out"), strings.Contains(msg, "no media for"):
		return "timeout"
	case strings.Contains(msg, "decode"), strings.Contains(msg, "unmarshal"), strings.Contains(msg, "no supported track"):
		return "decode"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return "io"
	}
	return "protocol"
}
