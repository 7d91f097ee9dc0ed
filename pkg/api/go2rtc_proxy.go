package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/httpclient"
	"lightnvr/pkg/logx"
)

// The go2rtc proxy puts live video behind lightnvr's one port and its login:
// go2rtc itself listens on loopback only, and the browser reaches the few
// endpoints a viewer needs through /go2rtc/…. Everything else go2rtc offers
// (config, exec, restart, publishing) stays out of reach.

const (
	go2rtcPrefix = "/go2rtc/"
	// defaultProxyInflight is LightNVR's [go2rtc] proxy_max_inflight default.
	defaultProxyInflight = 16
	// A WebSocket is a long-lived viewer, not a request: it gets its own, larger
	// cap so a 16-camera grid over MSE does not starve snapshots and WebRTC offers.
	wsPerInflight = 4
	// One user may hold a quarter of either cap: enough for a camera grid in one
	// browser, while three other users still get through. LightNVR has no config
	// key for a per-user share, so it follows proxy_max_inflight.
	perUserShare = 4
	// A snapshot or an offer over the user's share waits this long for a slot
	// before the 429: go2rtc answers those within a few seconds.
	shortRequestWait = 5 * time.Second
	// A WebSocket whose 101 has not reached the browser by then never will.
	wsHandoverTimeout = 15 * time.Second
	// The browser only sends small control messages (codec lists, SDP, ICE).
	wsClientReadLimit = 256 << 10
	// api/streams answers are small; a bigger one is not something a viewer needs.
	maxStreamsBody = 4 << 20
)

// go2rtcEndpoint is one go2rtc API endpoint the proxy lets through.
type go2rtcEndpoint struct {
	method    string
	needSrc   bool
	websocket bool
	// stream answers pass through as they arrive (fMP4 can run for hours).
	stream bool
	// redact scrubs camera credentials out of a JSON answer.
	redact bool
	// shared answers serve identical requests for a moment (sharedAnswers).
	shared bool
	params []string
}

var go2rtcEndpoints = map[string]go2rtcEndpoint{
	"api/webrtc":     {method: fasthttp.MethodPost, needSrc: true, params: []string{"src"}},
	"api/ws":         {method: fasthttp.MethodGet, needSrc: true, websocket: true, params: []string{"src"}},
	"api/stream.mp4": {method: fasthttp.MethodGet, needSrc: true, stream: true, params: []string{"src", "mp4", "duration", "filename"}},
	"api/frame.jpeg": {method: fasthttp.MethodGet, needSrc: true, shared: true, params: []string{"src", "width", "height", "rotate", "cache"}},
	"api/streams":    {method: fasthttp.MethodGet, redact: true, params: []string{"src"}},
	// go2rtc's HLS, which LightNVR's own UI plays in its HLS view: the
	// playlist names a session id that the later requests carry.
	"api/stream.m3u8":       {method: fasthttp.MethodGet, needSrc: true, params: []string{"src", "mp4"}},
	"api/hls/playlist.m3u8": {method: fasthttp.MethodGet, params: []string{"id"}},
	"api/hls/segment.ts":    {method: fasthttp.MethodGet, params: []string{"id", "n"}},
	"api/hls/init.mp4":      {method: fasthttp.MethodGet, params: []string{"id"}},
	"api/hls/segment.m4s":   {method: fasthttp.MethodGet, params: []string{"id", "n"}},
}

// streamNameRE is LightNVR's rule for stream names (plus the `_sub` names it
// derives). go2rtc treats an unknown src as a source URL and creates a stream from
// it, so anything that is not a plain name — `exec:…`, `rtsp://…` — must never pass.
var streamNameRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$`)

// Go2RTCProxyOptions configure the go2rtc proxy.
type Go2RTCProxyOptions struct {
	// Upstream is go2rtc's API address, host:port on loopback.
	Upstream string
	// BasePath is go2rtc's `api: base_path` ("" or e.g. "/go2rtc").
	BasePath string
	// MaxInflight bounds concurrent proxied HTTP requests; more get 503.
	MaxInflight int
	// Credentials go2rtc's API expects (basic auth); nil or zero sends none.
	Credentials func() go2rtc.Credentials
	Logger      *slog.Logger
}

// Go2RTCProxy forwards the viewing endpoints of go2rtc, HTTP and WebSocket.
type Go2RTCProxy struct {
	upstream string
	basePath string
	log      *slog.Logger
	client   *httpclient.Client
	dialer   *websocket.Dialer
	upgrader websocket.FastHTTPUpgrader
	creds    func() go2rtc.Credentials
	slots    *slotPool
	wsSlots  *slotPool
	shared   sharedAnswers

	mu     sync.Mutex
	conns  map[*wsPair]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewGo2RTCProxy builds a proxy to the go2rtc API at opts.Upstream.
func NewGo2RTCProxy(opts Go2RTCProxyOptions) *Go2RTCProxy {
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = defaultProxyInflight
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	base := strings.TrimRight(opts.BasePath, "/")
	if base != "" && !strings.HasPrefix(base, "/") {
		base = "/" + base
	}
	return &Go2RTCProxy{
		upstream: opts.Upstream,
		basePath: base,
		log:      opts.Logger.With("component", "go2rtc-proxy"),
		// No redirect is followed (one would leave the allowlist) and no proxy
		// sees camera traffic. No deadline either: stream.mp4 runs as long as
		// the viewer watches; go2rtc falling silent for Silence ends it.
		client: httpclient.New(httpclient.Options{
			DialTimeout: 3 * time.Second,
			Silence:     30 * time.Second, // a cold camera takes a few seconds for its first frame
			MaxBody:     maxStreamsBody,
		}),
		dialer: &websocket.Dialer{
			NetDialContext:   (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
			HandshakeTimeout: 5 * time.Second,
			Proxy:            nil,
		},
		upgrader: websocket.FastHTTPUpgrader{
			HandshakeTimeout: 5 * time.Second,
			// The page and the proxy share an origin; the session cookie is the check,
			// and SameSite=Lax keeps other sites' pages from opening this socket with it.
			CheckOrigin: sameOrigin,
		},
		creds:   opts.Credentials,
		slots:   newSlotPool(opts.MaxInflight),
		wsSlots: newSlotPool(opts.MaxInflight * wsPerInflight),
		conns:   map[*wsPair]struct{}{},
	}
}

// go2rtcRoutes put /go2rtc/… behind any authenticated user.
var go2rtcRoutes = []endpoint[*Go2RTCProxy]{
	{"GET", "/go2rtc/{path...}", auth.AccessViewer, (*Go2RTCProxy).Handle},
	{"POST", "/go2rtc/{path...}", auth.AccessViewer, (*Go2RTCProxy).Handle},
}

// serverProxy is the proxy to the go2rtc that cfg runs, nil when go2rtc is disabled.
func serverProxy(cfg config.Go2RTCConfig, creds func() go2rtc.Credentials, log *slog.Logger) *Go2RTCProxy {
	if !cfg.Enabled {
		return nil
	}
	return NewGo2RTCProxy(Go2RTCProxyOptions{
		Upstream:    net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.APIPort)),
		BasePath:    go2rtc.DefaultBasePath, // what lightnvr's go2rtc.yaml says
		MaxInflight: cfg.ProxyMaxInflight,
		Credentials: creds,
		Logger:      log,
	})
}

// Handle answers one /go2rtc/… request.
func (p *Go2RTCProxy) Handle(ctx *fasthttp.RequestCtx) {
	name := strings.TrimPrefix(string(ctx.Path()), go2rtcPrefix)
	ep, ok := go2rtcEndpoints[name]
	if !ok {
		if strings.HasPrefix(name, "api/") {
			writeErrorf(ctx, fasthttp.StatusForbidden, "go2rtc endpoint %s is not available through lightnvr", name)
		} else {
			writeError(ctx, fasthttp.StatusNotFound, "Not Found")
		}
		return
	}
	method := string(ctx.Method())
	if method != ep.method && !(method == fasthttp.MethodHead && ep.method == fasthttp.MethodGet) {
		writeErrorf(ctx, fasthttp.StatusMethodNotAllowed, "method %s not allowed on /go2rtc/%s", method, name)
		return
	}
	query, err := filterQuery(ctx.QueryArgs(), ep)
	if err != nil {
		writeError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	target := "http://" + p.upstream + p.basePath + "/" + name
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	if ep.websocket {
		p.serveWebSocket(ctx, "ws"+strings.TrimPrefix(target, "http"))
		return
	}
	p.serveHTTP(ctx, ep, target)
}

// upstreamAuth is the Authorization header go2rtc's API expects, or "".
func (p *Go2RTCProxy) upstreamAuth() string {
	if p.creds == nil {
		return ""
	}
	return p.creds().Authorization()
}

// filterQuery keeps only the parameters an endpoint needs, and checks src.
func filterQuery(args *fasthttp.Args, ep go2rtcEndpoint) (url.Values, error) {
	for _, bad := range []string{"dst", "name"} {
		if args.Has(bad) {
			return nil, fmt.Errorf("parameter %q is not allowed", bad)
		}
	}
	q := url.Values{}
	for _, k := range ep.params {
		if v := args.Peek(k); v != nil {
			q.Set(k, string(v))
		}
	}
	src, has := q.Get("src"), q.Has("src")
	if ep.needSrc && src == "" {
		return nil, errors.New("parameter src (a stream name) is required")
	}
	if has && !streamNameRE.MatchString(src) {
		return nil, fmt.Errorf("src %q is not a stream name", src)
	}
	return q, nil
}

// slotPool bounds concurrent proxied requests, in total and per user. A
// long-lived request (a stream, a WebSocket) never waits for a slot: a
// saturated proxy answers at once, so a grid of cameras cannot queue up behind
// one slow go2rtc call. A short one (a snapshot, an offer) may wait a moment,
// because a page asks for a card snapshot per camera all at once and the
// slots free within seconds.
type slotPool struct {
	mu      sync.Mutex
	total   int
	perUser int
	used    int
	byUser  map[string]int
	waiting int
	// freed is closed, and replaced, whenever a slot is released.
	freed chan struct{}
}

func newSlotPool(total int) *slotPool {
	return &slotPool{total: total, perUser: max(1, (total+perUserShare-1)/perUserShare), byUser: map[string]int{}, freed: make(chan struct{})}
}

// errSlotsFull and errUserSlotsFull say why acquire refused.
var (
	errSlotsFull     = errors.New("all slots taken")
	errUserSlotsFull = errors.New("the user's share of slots taken")
)

// acquire takes a slot for user, waiting up to wait for one to free, and
// returns its release, which may be called any number of times and frees the
// slot once. At most total requests wait at a time; more are refused at once.
func (s *slotPool) acquire(user string, wait time.Duration) (func(), error) {
	var deadline time.Time
	for {
		release, freed, err := s.tryAcquire(user)
		if err == nil || wait <= 0 {
			return release, err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(wait)
			if !s.enterWait() {
				return nil, err
			}
			defer s.leaveWait()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, err
		}
		timer := time.NewTimer(left)
		select {
		case <-freed:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (s *slotPool) tryAcquire(user string) (func(), <-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser[user] >= s.perUser {
		return nil, s.freed, errUserSlotsFull
	}
	if s.used >= s.total {
		return nil, s.freed, errSlotsFull
	}
	s.used++
	s.byUser[user]++
	var once sync.Once
	return func() { once.Do(func() { s.release(user) }) }, nil, nil
}

func (s *slotPool) enterWait() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting >= s.total {
		return false
	}
	s.waiting++
	return true
}

func (s *slotPool) leaveWait() {
	s.mu.Lock()
	s.waiting--
	s.mu.Unlock()
}

func (s *slotPool) release(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used--
	if s.byUser[user]--; s.byUser[user] <= 0 {
		delete(s.byUser, user)
	}
	close(s.freed)
	s.freed = make(chan struct{})
}

// slotOwner is whom a request's slot counts against: the user, or with
// authentication off (everyone is the same principal) the client address.
func slotOwner(ctx *fasthttp.RequestCtx) string {
	if p := PrincipalOf(ctx); p != nil && p.Method != "none" {
		return "user:" + strconv.FormatInt(p.UserID, 10)
	}
	return "addr:" + ctx.RemoteIP().String()
}

// heldSlot is a slot a request holds. done, deferred by the handler, frees
// it unless handOff passed it on to what outlives the handler (a streaming
// body, a WebSocket), which then frees it with the release handOff returns.
type heldSlot struct {
	release func()
	handed  bool
}

func (h *heldSlot) handOff() func() {
	h.handed = true
	return h.release
}

func (h *heldSlot) done() {
	if !h.handed {
		h.release()
	}
}

// takeSlot acquires a slot of pool for the request or answers why not (429 for
// a user over their share, 503 when the proxy is full).
func takeSlot(ctx *fasthttp.RequestCtx, pool *slotPool, what string, wait time.Duration) (*heldSlot, bool) {
	release, err := pool.acquire(slotOwner(ctx), wait)
	if err == nil {
		return &heldSlot{release: release}, true
	}
	ctx.Response.Header.Set("Retry-After", "1")
	if errors.Is(err, errUserSlotsFull) {
		writeErrorf(ctx, fasthttp.StatusTooManyRequests,
			"you already have %d %s open (the most one user may have); close one and try again", pool.perUser, what)
		return nil, false
	}
	writeErrorf(ctx, fasthttp.StatusServiceUnavailable, "too many %s in flight; try again", what)
	return nil, false
}

func (p *Go2RTCProxy) serveHTTP(ctx *fasthttp.RequestCtx, ep go2rtcEndpoint, target string) {
	if ep.shared {
		p.serveShared(ctx, target)
		return
	}
	var wait time.Duration
	if !ep.stream {
		wait = shortRequestWait
	}
	slot, ok := takeSlot(ctx, p.slots, "live-video requests", wait)
	if !ok {
		return
	}
	// Every return frees the slot, except the one that hands it to a streaming
	// body, which frees it when fasthttp closes that body.
	defer slot.done()

	req, resp := p.upstreamRequest(ctx, target), new(fasthttp.Response)
	for _, h := range []string{fasthttp.HeaderContentType, fasthttp.HeaderAccept} {
		if v := ctx.Request.Header.Peek(h); len(v) > 0 {
			req.Header.SetBytesV(h, v)
		}
	}
	req.SetBody(ctx.PostBody())
	resp.StreamBody = ep.stream
	if status, msg := p.roundTrip(req, resp, target); status != 0 {
		writeError(ctx, status, msg)
		return
	}
	ctx.SetStatusCode(resp.StatusCode())
	for _, h := range []string{"Content-Type", "Cache-Control", "Content-Disposition", "Last-Modified", "ETag"} {
		if v := resp.Header.Peek(h); len(v) > 0 {
			ctx.Response.Header.SetBytesV(h, v)
		}
	}
	if ep.stream && resp.StatusCode() == fasthttp.StatusOK && resp.BodyStream() != nil {
		// fasthttp closes the body stream when the client goes away or the copy
		// ends; that frees the slot and the upstream connection.
		ctx.SetBodyStream(&streamBody{resp: resp, done: slot.handOff()}, -1)
		return
	}
	data, err := answerBody(resp)
	if err != nil {
		writeErrorf(ctx, fasthttp.StatusBadGateway, "read go2rtc answer: %v", err)
		return
	}
	if ep.redact && resp.StatusCode() == fasthttp.StatusOK {
		data = redactJSON(data)
	}
	ctx.SetBody(data)
}

// upstreamRequest is a request for target with go2rtc's credentials and the
// method of the browser's request.
func (p *Go2RTCProxy) upstreamRequest(ctx *fasthttp.RequestCtx, target string) *fasthttp.Request {
	req := new(fasthttp.Request)
	req.Header.SetMethodBytes(ctx.Method())
	req.SetRequestURI(target)
	if a := p.upstreamAuth(); a != "" {
		req.Header.Set(fasthttp.HeaderAuthorization, a)
	}
	return req
}

// roundTrip sends req to go2rtc; without an answer it returns the status and
// message the browser gets instead (status 0: an answer came).
func (p *Go2RTCProxy) roundTrip(req *fasthttp.Request, resp *fasthttp.Response, target string) (int, string) {
	err := p.client.Do(context.Background(), req, resp)
	switch {
	case err == nil:
		return 0, ""
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return fasthttp.StatusBadGateway, "go2rtc answer too large"
	}
	p.log.Warn("go2rtc request failed", "url", logx.RedactURL(target), "err", err)
	return fasthttp.StatusBadGateway, "go2rtc is not reachable"
}

// answerBody is resp's whole body; a streamed one (a refusal of a stream
// endpoint) is read up to the same bound as any other answer.
func answerBody(resp *fasthttp.Response) ([]byte, error) {
	s := resp.BodyStream()
	if s == nil {
		return resp.Body(), nil
	}
	defer resp.CloseBodyStream()
	data, err := io.ReadAll(io.LimitReader(s, maxStreamsBody+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxStreamsBody {
		return nil, errors.New("go2rtc answer too large")
	}
	return data, nil
}

// streamBody is go2rtc's streamed answer on its way to the browser; closing
// it drops the upstream connection (unless the stream ended) and frees the slot.
type streamBody struct {
	resp *fasthttp.Response
	once sync.Once
	done func()
}

func (b *streamBody) Read(p []byte) (int, error) { return b.resp.BodyStream().Read(p) }

func (b *streamBody) Close() error {
	err := b.resp.CloseBodyStream()
	b.once.Do(b.done)
	return err
}

// redactJSON masks credentials in every string of a go2rtc answer, keys
// included: its stream list names the camera sources (go2rtc even names a
// stream after its source when one is created from a URL), and a viewer must
// not learn camera passwords. An answer that is not JSON is masked as text.
func redactJSON(data []byte) []byte {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return []byte(logx.RedactURL(string(data)))
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		return []byte(logx.RedactURL(string(data)))
	}
	return out
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[logx.RedactURL(k)] = redactValue(x)
		}
		return out
	case []any:
		for i, x := range t {
			t[i] = redactValue(x)
		}
	case string:
		return logx.RedactURL(t)
	}
	return v
}

func sameOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := string(ctx.Request.Header.Peek("Origin"))
	if origin == "" {
		return true // not a browser
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, string(ctx.Host()))
}

// wsPair is one proxied WebSocket: the browser's side and go2rtc's.
type wsPair struct {
	client, upstream *websocket.Conn
	once             sync.Once
}

func (w *wsPair) close() {
	w.once.Do(func() {
		deadline := time.Now().Add(time.Second)
		msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
		_ = w.client.WriteControl(websocket.CloseMessage, msg, deadline)
		_ = w.upstream.WriteControl(websocket.CloseMessage, msg, deadline)
		_ = w.client.Close()
		_ = w.upstream.Close()
	})
}

func (p *Go2RTCProxy) serveWebSocket(ctx *fasthttp.RequestCtx, target string) {
	if !websocket.FastHTTPIsWebSocketUpgrade(ctx) {
		writeError(ctx, fasthttp.StatusBadRequest, "expected a WebSocket upgrade")
		return
	}
	slot, ok := takeSlot(ctx, p.wsSlots, "live-video connections", 0)
	if !ok {
		return
	}
	// The upgrade handler frees the slot when the socket ends; every other path here.
	defer slot.done()
	// Dial go2rtc first so a dead go2rtc is a plain 502, not a socket that closes at once.
	var hdr http.Header
	if a := p.upstreamAuth(); a != "" {
		hdr = http.Header{"Authorization": {a}}
	}
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	up, resp, err := p.dialer.DialContext(dctx, target, hdr)
	cancel()
	if err != nil {
		status := fasthttp.StatusBadGateway
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 {
			status = resp.StatusCode
		}
		p.log.Warn("go2rtc websocket dial failed", "url", logx.RedactURL(target), "err", err)
		writeError(ctx, status, "go2rtc websocket is not reachable")
		return
	}
	up.SetReadLimit(maxStreamsBody * 4)

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = up.Close()
		writeError(ctx, fasthttp.StatusServiceUnavailable, "shutting down")
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()

	release := slot.handOff()
	// fasthttp runs the handler only once the 101 reached the browser; a browser
	// gone before that would leave the slot taken for good. Whichever comes
	// first, the handler or the watchdog below, owns the cleanup.
	var owner atomic.Int32 // 0 pending, 1 handler, 2 watchdog
	err = p.upgrader.Upgrade(ctx, func(c *websocket.Conn) {
		if !owner.CompareAndSwap(0, 1) {
			_ = c.Close()
			return
		}
		defer p.wg.Done()
		defer release()
		// The HTTP server's read timeout was armed for the request; a live view
		// stays open far longer, and liveness is go2rtc's and the browser's business.
		_ = c.NetConn().SetDeadline(time.Time{})
		c.SetReadLimit(wsClientReadLimit)
		pair := &wsPair{client: c, upstream: up}
		if !p.track(pair) {
			pair.close()
			return
		}
		defer p.untrack(pair)
		done := make(chan struct{}, 2)
		go func() { pump(c, up); pair.close(); done <- struct{}{} }()
		go func() { pump(up, c); pair.close(); done <- struct{}{} }()
		<-done
		<-done
	})
	if err != nil {
		p.wg.Done()
		release()
		_ = up.Close()
		p.log.Debug("websocket upgrade failed", "err", err)
		return
	}
	time.AfterFunc(wsHandoverTimeout, func() {
		if owner.CompareAndSwap(0, 2) {
			p.wg.Done()
			release()
			_ = up.Close()
		}
	})
}

func (p *Go2RTCProxy) track(w *wsPair) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[w] = struct{}{}
	return true
}

func (p *Go2RTCProxy) untrack(w *wsPair) {
	p.mu.Lock()
	delete(p.conns, w)
	p.mu.Unlock()
}

// pump copies messages from src to dst until either side fails or closes.
func pump(src, dst *websocket.Conn) {
	for {
		typ, r, err := src.NextReader()
		if err != nil {
			return
		}
		w, err := dst.NextWriter(typ)
		if err != nil {
			return
		}
		if _, err := io.Copy(w, r); err != nil {
			_ = w.Close()
			return
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

// Close ends every proxied WebSocket and waits for their pumps to stop.
func (p *Go2RTCProxy) Close() {
	p.mu.Lock()
	p.closed = true
	pairs := make([]*wsPair, 0, len(p.conns))
	for w := range p.conns {
		pairs = append(pairs, w)
	}
	p.mu.Unlock()
	for _, w := range pairs {
		w.close()
	}
	waited := make(chan struct{})
	go func() { p.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(3 * time.Second):
		// A socket whose upgrade reply never reached the browser is never handed to
		// its handler; do not hold shutdown hostage to it.
		p.log.Warn("websocket pumps still running after close")
	}
	p.client.CloseIdle()
}
