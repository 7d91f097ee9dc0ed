package api

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/tlscert"
)

// HTTPS shares the one web port with plain HTTP: the first byte of each
// connection decides. A TLS connection starts with a handshake record (0x16);
// an HTTP request starts with a method name, never that byte.
const tlsHandshakeRecord = 0x16

// tlsConfig is the server side of HTTPS: TLS 1.2 or later and HTTP/1.1 only
// (fasthttp speaks no HTTP/2).
func tlsConfig(c *tlscert.Cert) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{c.TLS},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
}

// sniffListener hands out each accepted connection once its first byte showed
// what it speaks: a *tls.Conn for a TLS client (so fasthttp's ctx.IsTLS sees
// it), the plain connection otherwise. Each connection waits for its first
// byte in its own goroutine, under the server's read timeout, so a client that
// connects and says nothing holds only itself up and is dropped like any idle
// client.
type sniffListener struct {
	net.Listener
	tls     *tls.Config
	timeout time.Duration

	ready  chan net.Conn
	errc   chan error
	done   chan struct{}
	closed sync.Once

	mu      sync.Mutex
	pending map[net.Conn]struct{} // connections still waiting for a first byte
	wg      sync.WaitGroup
}

func newSniffListener(ln net.Listener, cfg *tls.Config, timeout time.Duration) *sniffListener {
	l := &sniffListener{
		Listener: ln, tls: cfg, timeout: timeout,
		ready: make(chan net.Conn), errc: make(chan error, 1), done: make(chan struct{}),
		pending: map[net.Conn]struct{}{},
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection whose protocol is known.
func (l *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting and drops the connections still being sniffed.
func (l *sniffListener) Close() error {
	var err error
	l.closed.Do(func() {
		close(l.done)
		err = l.Listener.Close()
		l.mu.Lock()
		for c := range l.pending {
			_ = c.Close()
		}
		l.mu.Unlock()
		l.wg.Wait()
	})
	return err
}

func (l *sniffListener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			select {
			case l.errc <- err:
			case <-l.done:
			}
			return
		}
		if !l.track(c) {
			_ = c.Close()
			return
		}
		l.wg.Add(1)
		go l.sniff(c)
	}
}

// track records c as pending; false once the listener is closed.
func (l *sniffListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
		return false
	default:
	}
	l.pending[c] = struct{}{}
	return true
}

func (l *sniffListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.pending, c)
	l.mu.Unlock()
}

func (l *sniffListener) sniff(c net.Conn) {
	defer l.wg.Done()
	conn, err := l.classify(c)
	l.untrack(c)
	if err != nil {
		_ = c.Close()
		return
	}
	select {
	case l.ready <- conn:
	case <-l.done:
		_ = c.Close()
	}
}

// classify reads the first byte under the read timeout and wraps c.
func (l *sniffListener) classify(c net.Conn) (net.Conn, error) {
	if l.timeout > 0 {
		if err := c.SetReadDeadline(time.Now().Add(l.timeout)); err != nil {
			return nil, err
		}
	}
	pc := &peekedConn{Conn: c}
	if _, err := io.ReadFull(c, pc.first[:]); err != nil {
		return nil, err
	}
	// fasthttp sets its own deadlines from here on.
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if pc.first[0] == tlsHandshakeRecord {
		return tls.Server(pc, l.tls), nil
	}
	return pc, nil
}

// peekedConn gives back the sniffed byte before reading on from the
// connection. It deliberately has no ConnectionState method: fasthttp must not
// take a plain connection for TLS.
type peekedConn struct {
	net.Conn
	first    [1]byte
	replayed bool
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if !c.replayed && len(p) > 0 {
		c.replayed = true
		p[0] = c.first[0]
		return 1, nil
	}
	return c.Conn.Read(p)
}

// redirectToHTTPS answers a plain-HTTP request with a redirect to the same
// address over HTTPS when HTTPS is on, and returns true then. The only plain
// request still served is GET /api/health from loopback, which init scripts,
// `lightnvr diag` and supervisors probe without TLS.
func (s *Server) redirectToHTTPS(ctx *fasthttp.RequestCtx) bool {
	if s.tls == nil || requestIsHTTPS(ctx, s.users) {
		return false
	}
	if string(ctx.Path()) == "/api/health" && ctx.IsGet() && peerAddr(ctx).IsLoopback() {
		return false
	}
	// 307 keeps the method and body, and is not cached: a browser that saw it
	// still reaches the box over HTTP once HTTPS is turned off again (a
	// cached 301/308 would send it to a port that no longer speaks TLS).
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Location", httpsURL(ctx))
	ctx.SetStatusCode(fasthttp.StatusTemporaryRedirect)
	return true
}

// httpsURL is the request's URL with the https scheme: the host and port the
// client asked for (the Host header), or the listener's address when the
// header is missing or not a plain host name or address.
func httpsURL(ctx *fasthttp.RequestCtx) string {
	host := redirectHost(string(ctx.Host()), ctx.LocalAddr())
	uri := string(ctx.URI().RequestURI())
	if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
		uri = "/"
	}
	return "https://" + host + uri
}

func redirectHost(hostHeader string, local net.Addr) string {
	localHost, localPort := "127.0.0.1", "80"
	if ta, ok := local.(*net.TCPAddr); ok {
		localHost, localPort = ta.IP.String(), strconv.Itoa(ta.Port)
	}
	host, port := hostHeader, ""
	if h, p, err := net.SplitHostPort(hostHeader); err == nil {
		host, port = h, p
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if _, err := strconv.ParseUint(port, 10, 16); port != "" && err != nil {
		return net.JoinHostPort(localHost, localPort)
	}
	if !validRedirectHost(host) {
		return net.JoinHostPort(localHost, localPort)
	}
	if port == "" {
		port = localPort
	}
	return net.JoinHostPort(host, port)
}

// validRedirectHost accepts a DNS name or an IP literal: nothing that could
// turn the Location into another URL (userinfo, path, scheme).
func validRedirectHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// tlsInfo is the certificate part of /api/system/info.
type tlsInfo struct {
	Enabled     bool     `json:"enabled"`
	Fingerprint string   `json:"fingerprint_sha256,omitempty"`
	SelfSigned  bool     `json:"self_signed,omitempty"`
	Subject     string   `json:"subject,omitempty"`
	Names       []string `json:"names,omitempty"`
	NotAfter    int64    `json:"not_after,omitempty"`
}

func tlsInfoOf(c *tlscert.Cert) tlsInfo {
	if c == nil {
		return tlsInfo{}
	}
	ti := tlsInfo{Enabled: true, Fingerprint: c.Fingerprint, SelfSigned: c.Generated,
		Subject: c.Leaf.Subject.CommonName, NotAfter: c.Leaf.NotAfter.Unix()}
	ti.Names = append(ti.Names, c.Leaf.DNSNames...)
	for _, ip := range c.Leaf.IPAddresses {
		ti.Names = append(ti.Names, ip.String())
	}
	return ti
}
