package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
)

// ErrSourceUnavailable: the RTSP server answered DESCRIBE with 404. go2rtc
// does so when it could not open the camera behind the stream.
var ErrSourceUnavailable = errors.New("the server could not open the source (camera unreachable, refused, wrong URL or credentials)")

// Conn is an RTSP/TCP client session whose track list has been read.
type Conn struct {
	*gortsplib.Client
	Desc *description.Session
	stop func() bool
}

// Dial connects to rawURL over RTSP/TCP and reads its track list. timeout
// bounds each read and write; the end of ctx closes the session (and so
// unblocks any call on it). Close the Conn when done.
func Dial(ctx context.Context, rawURL, userAgent string, timeout time.Duration) (*Conn, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	tcp := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme:       u.Scheme,
		Host:         u.Host,
		Protocol:     &tcp,
		ReadTimeout:  timeout,
		WriteTimeout: timeout,
		UserAgent:    userAgent,
		DialContext:  dialBuffered,
	}
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", u.Host, err)
	}
	conn := &Conn{Client: c, stop: context.AfterFunc(ctx, c.Close)}
	desc, _, err := c.Describe(u)
	if err != nil {
		conn.Close()
		return nil, describeError(ctx, err)
	}
	conn.Desc = desc
	return conn, nil
}

// readBufferSize is how much one socket read may take. gortsplib reads
// through a 4 KiB buffer, so a 4 Mbit/s stream cost a read syscall every
// three RTP packets; reading a whole frame's worth at once makes it
// one or two reads per frame. Set from the per-frame size of 1080p at
// 4-8 Mbit/s, 25 fps (20-40 KB).
const readBufferSize = 64 << 10

// bufferedConn serves reads from a large buffer in front of the socket.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func dialBuffered(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, readBufferSize)}, nil
}

// Close ends the session.
func (c *Conn) Close() {
	c.stop()
	c.Client.Close()
}

func describeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("source gave no track list in time: %w", ctx.Err())
	}
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) && bad.Code == base.StatusNotFound {
		return ErrSourceUnavailable
	}
	return fmt.Errorf("describe: %w", err)
}
