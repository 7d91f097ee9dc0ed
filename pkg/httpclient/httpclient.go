// Package httpclient makes the HTTP calls lightnvr sends out: to go2rtc's
// API and its proxied viewing endpoints, to cameras (ONVIF), to detectors, to
// webhook receivers and, for the diagnostics report, to the daemon itself.
// What they share has one home here: no redirects are followed, no proxy is
// used (the environment's proxy variables included), lightnvr names itself, answers read into memory are
// bounded, and every call has a deadline or a bound on silence.
//
// It is built on fasthttp's client, which the server side links anyway:
// net/http's client (its Transport and bundled HTTP/2) would add about
// 600 KB to the appliance binary for the same job.
package httpclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// UserAgent names lightnvr to the servers it calls; a call may set its own.
const UserAgent = "LightNVR"

const (
	defaultDialTimeout = 5 * time.Second
	// Requests are small (a SOAP envelope, a JPEG, a JSON event); sending one,
	// or a TLS handshake, taking longer means the peer is not reading.
	writeTimeout   = 10 * time.Second
	defaultMaxBody = 1 << 20
)

// Options shape a Client. The zero value suits short calls with a context
// deadline and answers of up to 1 MiB.
type Options struct {
	// Timeout bounds every call; a context deadline may shorten it. 0: only
	// the context's deadline, if any.
	Timeout time.Duration
	// Silence bounds each wait for the peer to send: the answer's head, or the
	// next bytes of a streamed body. It lets a live stream run for hours while
	// a peer that stops answering is still dropped. 0: no bound.
	Silence time.Duration
	// DialTimeout bounds connecting; 0: 5 s.
	DialTimeout time.Duration
	// MaxBody is the largest answer read into memory; a larger one fails the
	// call (a hostile peer must not fill the memory). 0: 1 MiB. A streamed
	// body (Response.StreamBody) is the caller's to bound.
	MaxBody int
}

// Client sends HTTP calls; it is safe for concurrent use.
type Client struct {
	fc      *fasthttp.Client
	timeout time.Duration
	maxBody int
}

// New returns a client with o's bounds.
func New(o Options) *Client {
	maxBody := cmp.Or(o.MaxBody, defaultMaxBody)
	return &Client{
		timeout: o.Timeout,
		maxBody: maxBody,
		fc: &fasthttp.Client{
			Name:         UserAgent,
			Dial:         dialer(o),
			WriteTimeout: writeTimeout,
			// fasthttp's own default for idle connections, stated: unset, its
			// sweep of idle hosts runs every second instead of every 10 s.
			MaxIdleConnDuration: fasthttp.DefaultMaxIdleConnDuration,
			MaxResponseBodySize: maxBody,
			// Sent as given: a go2rtc query or a camera's service path must
			// reach the peer byte for byte.
			DisablePathNormalizing: true,
			RetryIfErr:             retryStale,
		},
	}
}

// Do sends req and reads the answer into resp; it follows no redirect. A
// context that ends makes Do return at once while the call runs on to its
// deadline in the background, so req and resp then still belong to it: take
// them with new() per call, never from fasthttp's pools.
//
// A call that runs out of time fails with an error that matches
// context.DeadlineExceeded.
func (c *Client) Do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	// A Content-Type is sent, and read, only when there is one: go2rtc tells
	// an SDP offer from JSON by it, and a proxied answer keeps it absent.
	req.Header.SetNoDefaultContentType(true)
	resp.Header.SetNoDefaultContentType(true)
	deadline, fromCtx := ctx.Deadline()
	if c.timeout > 0 {
		if own := time.Now().Add(c.timeout); !fromCtx || own.Before(deadline) {
			deadline, fromCtx = own, false
		}
	}
	call := func() error {
		if deadline.IsZero() {
			return c.fc.Do(req, resp)
		}
		return c.fc.DoDeadline(req, resp, deadline)
	}
	if ctx.Done() == nil {
		return c.explain(call())
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		if fromCtx && errors.Is(err, fasthttp.ErrTimeout) {
			// The context's deadline passed: let the caller find it done too,
			// as it would after any other call that ran out of time.
			<-ctx.Done()
		}
		return c.explain(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CloseIdle drops kept-alive connections, e.g. after the peer restarted.
func (c *Client) CloseIdle() { c.fc.CloseIdleConnections() }

// explain turns fasthttp's errors into ones that say what happened to the
// call; one that ran out of time matches context.DeadlineExceeded, whichever
// deadline it was.
func (c *Client) explain(err error) error {
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fmt.Errorf("answer larger than %d bytes: %w", c.maxBody, err)
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}

// retryStale sends a call once more, whatever its method, when the
// connection broke before any answer: that is a kept-alive connection the
// peer had already closed, and the call never reached it. Anything else is
// the caller's to retry.
func retryStale(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	stale := errors.Is(err, io.EOF) || errors.Is(err, fasthttp.ErrConnectionClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return false, attempts < 2 && stale
}

func dialer(o Options) fasthttp.DialFunc {
	timeout := cmp.Or(o.DialTimeout, defaultDialTimeout)
	// The standard dialer rather than fasthttp's: that one caches DNS answers
	// with a goroutine that wakes every second for the process's lifetime.
	// IPv4, as fasthttp's default dial.
	d := &net.Dialer{Timeout: timeout}
	dial := func(addr string) (net.Conn, error) { return d.Dial("tcp4", addr) }
	if o.Silence <= 0 {
		return dial
	}
	return func(addr string) (net.Conn, error) {
		conn, err := dial(addr)
		if err != nil {
			return nil, err
		}
		return &quietConn{Conn: conn, silence: o.Silence}, nil
	}
}

// quietConn fails a read that waits longer than silence, within any
// deadline the client set for the whole call.
type quietConn struct {
	net.Conn
	silence  time.Duration
	deadline time.Time // the client's read deadline; zero: none
}

func (c *quietConn) SetDeadline(t time.Time) error {
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

func (c *quietConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

func (c *quietConn) Read(p []byte) (int, error) {
	d := time.Now().Add(c.silence)
	if !c.deadline.IsZero() && c.deadline.Before(d) {
		d = c.deadline
	}
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}
