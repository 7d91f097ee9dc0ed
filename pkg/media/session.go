package media

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/auth"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/gortsplib/v5/pkg/sdpunmarshaler"
)

// session is the RTSP client that ingest plays a stream with: RTSP/TCP,
// RTP interleaved in the connection (RFC 2326 §10.12), and nothing else.
//
// It replaces the RTP library's client because ingest spends most of its
// CPU per packet, and that client allocates a buffer and a packet for each
// one, stamps each with the clock and hands it across goroutines. Here the
// reading goroutine is the caller's: each frame is looked at where it lies
// in the socket buffer and is only good until the next read, so a stream
// allocates nothing per packet. The requests, headers, authentication and
// track list are still the library's.
type session struct {
	nc       net.Conn
	br       *bufio.Reader // over sr: reads skip the runtime's syscall bookkeeping
	sr       *sockReader   // nil when the conn is not TCP (a test's pipe)
	timeout  time.Duration
	stop     func() bool // undoes the context hook
	url      *base.URL   // the DESCRIBE URL, without credentials
	user     string
	pass     string
	ua       string
	desc     *description.Session
	consumed int // bytes of the frame last returned, discarded on the next read

	wmu    sync.Mutex // keepalives are written from their own goroutine
	cseq   int
	id     string // the Session header's id, once set up
	sender *auth.Sender

	period    time.Duration // between keepalives
	kaStop    chan struct{}
	kaDone    chan struct{}
	closeOnce sync.Once
}

// ErrSourceUnavailable: the RTSP server answered DESCRIBE with 404. go2rtc
// does so when it could not open the camera behind the stream.
var ErrSourceUnavailable = errors.New("the server could not open the source (camera unreachable, refused, wrong URL or credentials)")

// readBufferSize is the socket buffer in front of the session: one read
// takes a whole frame's worth (1080p at 4-8 Mbit/s, 25 fps: 20-40 KB), so
// a stream costs one or two reads per frame, and every interleaved frame
// (at most 64 KiB - 1) fits, so it can be looked at where it lies.
const readBufferSize = 64 << 10

// keepalivePeriod is how often a playing session sends OPTIONS, at most:
// RTSP servers drop a session after 60 s without a request (go2rtc's read
// timeout, the RFC's default session timeout), and RTP flowing the other
// way does not count. A server that states a shorter timeout in its
// Session header gets one at half of it.
const keepalivePeriod = 30 * time.Second

// dialSession connects to rawURL and reads its track list. timeout bounds
// the connection and every request; the end of ctx closes the connection,
// which unblocks any call on it. Close the session when done.
func dialSession(ctx context.Context, rawURL, userAgent string, timeout time.Duration) (*session, error) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	if u.Scheme != "rtsp" {
		return nil, fmt.Errorf("url scheme %q: only rtsp is read here", u.Scheme)
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "554")
	}
	nc, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", u.Host, err)
	}
	rd := newSockReader(nc)
	sr, _ := rd.(*sockReader)
	s := &session{
		nc:      nc,
		br:      bufio.NewReaderSize(rd, readBufferSize),
		sr:      sr,
		timeout: timeout,
		stop:    context.AfterFunc(ctx, func() { _ = nc.Close() }),
		url:     u.CloneWithoutCredentials(),
		ua:      userAgent,
		period:  keepalivePeriod,
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if err := s.describe(); err != nil {
		s.Close()
		return nil, describeError(ctx, err)
	}
	return s, nil
}

// describeError names a failed DESCRIBE: the context's end, go2rtc's 404 for a
// source it could not open, or the failure itself.
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

// Close ends the session. The connection's end is the teardown: both
// go2rtc and the RTP library's server drop the session with it. Only the
// session's owner calls it; others use abort.
func (s *session) Close() {
	s.closeOnce.Do(func() {
		s.stop()
		s.abort()
		if s.kaStop != nil {
			close(s.kaStop)
			<-s.kaDone
		}
		if s.sr != nil {
			s.sr.release()
		}
	})
}

// abort cuts the connection, from any goroutine: the owner's read returns
// an error and the owner closes the session.
func (s *session) abort() { _ = s.nc.Close() }

func (s *session) describe() error {
	res, err := s.do(&base.Request{Method: base.Describe, URL: s.url,
		Header: base.Header{"Accept": base.HeaderValue{"application/sdp"}}})
	if err != nil {
		return err
	}
	if ct := res.Header["Content-Type"]; len(ct) != 1 || strings.TrimSpace(strings.Split(ct[0], ";")[0]) != "application/sdp" {
		return fmt.Errorf("track list is not SDP (Content-Type %q)", res.Header["Content-Type"])
	}
	sd, err := sdpunmarshaler.Unmarshal(res.Body)
	if err != nil {
		return fmt.Errorf("track list: %w", err)
	}
	var desc description.Session
	if err := desc.Unmarshal2(sd); err != nil {
		return fmt.Errorf("track list: %w", err)
	}
	desc.BaseURL = s.url
	if control, ok := sd.Attribute("control"); ok && control != "*" {
		if desc.BaseURL, err = base.ParseURL(control); err != nil {
			return fmt.Errorf("track list: session control %q: %w", control, err)
		}
	} else if cb := res.Header["Content-Base"]; len(cb) == 1 {
		ref := cb[0]
		if strings.HasPrefix(ref, "/") {
			ref = s.url.Scheme + "://" + s.url.Host + ref
		}
		if desc.BaseURL, err = base.ParseURL(ref); err != nil {
			return fmt.Errorf("track list: Content-Base %q: %w", cb[0], err)
		}
	}
	s.desc = &desc
	return nil
}

// setup asks for m's packets interleaved in the connection and returns
// the channel its RTP will come on. i numbers the medias set up so far.
func (s *session) setup(m *description.Media, i int) (int, error) {
	u, err := m.URL(s.desc.BaseURL)
	if err != nil {
		return 0, fmt.Errorf("setup: track URL: %w", err)
	}
	unicast := headers.TransportDeliveryUnicast
	want := headers.Transport{Protocol: headers.TransportProtocolTCP, Delivery: &unicast,
		InterleavedIDs: &[2]int{2 * i, 2*i + 1}}
	res, err := s.do(&base.Request{Method: base.Setup, URL: u,
		Header: base.Header{"Transport": want.Marshal()}})
	if err != nil {
		return 0, fmt.Errorf("setup: %w", err)
	}
	var got headers.Transport
	if err := got.Unmarshal(res.Header["Transport"]); err != nil {
		return 0, fmt.Errorf("setup: server's Transport: %w", err)
	}
	if got.Protocol != headers.TransportProtocolTCP {
		return 0, errors.New("setup: server did not accept RTP over the RTSP connection")
	}
	ch := 2 * i
	if got.InterleavedIDs != nil {
		ch = got.InterleavedIDs[0]
	}
	var sh headers.Session
	if err := sh.Unmarshal(res.Header["Session"]); err != nil {
		return 0, fmt.Errorf("setup: server's Session: %w", err)
	}
	s.wmu.Lock()
	s.id = sh.Session
	s.wmu.Unlock()
	if sh.Timeout != nil && *sh.Timeout > 0 {
		s.period = min(s.period, time.Duration(*sh.Timeout)*time.Second/2)
	}
	return ch, nil
}

// play starts the flow, and the keepalives that hold it open.
func (s *session) play() error {
	if _, err := s.do(&base.Request{Method: base.Play, URL: s.desc.BaseURL,
		Header: base.Header{"Range": base.HeaderValue{"npt=0.000-"}}}); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	s.kaStop, s.kaDone = make(chan struct{}), make(chan struct{})
	go s.keepalive()
	return nil
}

// pace makes the playing session's reads wait for a beat of d when the
// socket is empty (see sockReader); 0 reads as soon as data arrives. Only
// the reading goroutine calls it.
func (s *session) pace(d time.Duration) {
	if s.sr != nil {
		s.sr.setPace(d)
	}
}

// keepalive sends OPTIONS every period until Close. The answers
// come in among the frames, where readFrame skips them; a server that
// never answers (some cameras) is no different.
func (s *session) keepalive() {
	defer close(s.kaDone)
	t := time.NewTicker(s.period)
	defer t.Stop()
	for {
		select {
		case <-s.kaStop:
			return
		case <-t.C:
		}
		if err := s.send(&base.Request{Method: base.Options, URL: s.desc.BaseURL}); err != nil {
			s.abort() // the owner's read ends with the error
			return
		}
	}
}

// send writes req with the session's headers.
func (s *session) send(req *base.Request) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if req.Header == nil {
		req.Header = base.Header{}
	}
	s.cseq++
	req.Header["CSeq"] = base.HeaderValue{strconv.Itoa(s.cseq)}
	req.Header["User-Agent"] = base.HeaderValue{s.ua}
	if s.id != "" {
		req.Header["Session"] = base.HeaderValue{s.id}
	}
	if s.sender != nil {
		s.sender.AddAuthorization(req)
	}
	b, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("%s: %w", req.Method, err)
	}
	if err := s.nc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return err
	}
	_, err = s.nc.Write(b)
	return err
}

// do sends req and reads its answer, answering one authentication
// challenge with the URL's credentials. A status other than 200 is an
// error the caller can inspect (liberrors.ErrClientBadStatusCode).
func (s *session) do(req *base.Request) (*base.Response, error) {
	if err := s.nc.SetReadDeadline(time.Now().Add(s.timeout)); err != nil {
		return nil, err
	}
	defer func() { _ = s.nc.SetReadDeadline(time.Time{}) }()
	for challenged := false; ; challenged = true {
		if err := s.send(req); err != nil {
			return nil, err
		}
		res, err := s.readResponse()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", req.Method, err)
		}
		if res.StatusCode == base.StatusUnauthorized && !challenged && s.user != "" {
			se := &auth.Sender{WWWAuth: res.Header["WWW-Authenticate"], User: s.user, Pass: s.pass}
			if err := se.Initialize(); err != nil {
				return nil, fmt.Errorf("%s: authenticate: %w", req.Method, err)
			}
			s.wmu.Lock()
			s.sender = se
			s.wmu.Unlock()
			continue
		}
		if res.StatusCode != base.StatusOK {
			return res, liberrors.ErrClientBadStatusCode{Code: res.StatusCode, Message: res.StatusMessage}
		}
		return res, nil
	}
}

// readResponse reads the next response, skipping frames that come first.
func (s *session) readResponse() (*base.Response, error) {
	for {
		s.release()
		b, err := s.br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] == base.InterleavedFrameMagicByte {
			if _, _, err := s.readFrame(); err != nil {
				return nil, err
			}
			continue
		}
		var res base.Response
		if err := res.Unmarshal(s.br); err != nil {
			return nil, err
		}
		return &res, nil
	}
}

// readFrame returns the next interleaved frame's channel and payload. The
// payload lies in the read buffer: it is only good until the next read.
// Answers to keepalives that come in between are skipped. There is no read
// deadline: the source's stall watch aborts a session that goes quiet.
func (s *session) readFrame() (int, []byte, error) {
	s.release()
	for {
		h, err := s.br.Peek(4)
		if err != nil {
			return 0, nil, err
		}
		if h[0] != base.InterleavedFrameMagicByte {
			var res base.Response
			if err := res.Unmarshal(s.br); err != nil {
				return 0, nil, fmt.Errorf("read: neither a frame nor a response: %w", err)
			}
			continue
		}
		ch, n := int(h[1]), int(h[2])<<8|int(h[3])
		_, _ = s.br.Discard(4)
		// n < 64 KiB, the buffer's size, so the whole frame fits.
		p, err := s.br.Peek(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
		s.consumed = n
		return ch, p, nil
	}
}

// release drops the frame readFrame returned last from the buffer.
func (s *session) release() {
	if s.consumed > 0 {
		_, _ = s.br.Discard(s.consumed) // peeked, so it is all there
		s.consumed = 0
	}
}
