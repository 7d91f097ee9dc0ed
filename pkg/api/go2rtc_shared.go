package api

import (
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// sharedFor is how long a snapshot answer serves later identical requests. A
// page asks for every camera card's picture at once, and again on each
// refresh; go2rtc then makes one picture per camera per second at most, and
// the proxy's slots stay free for the requests that need them.
const sharedFor = time.Second

// sharedAnswers lets identical requests for a shared endpoint (frame.jpeg)
// wait on one go2rtc call and take its answer.
type sharedAnswers struct {
	mu    sync.Mutex
	calls map[string]*sharedCall
}

type sharedCall struct {
	done   chan struct{}
	at     time.Time // when the answer arrived; zero while in flight
	status int
	header [][2]string
	body   []byte
	errMsg string // the proxy's own refusal, answered as an error body
}

// join returns the call for target that is in flight or answered within
// sharedFor, or a new one that the caller (leader) must answer.
func (s *sharedAnswers) join(target string, now time.Time) (c *sharedCall, leader bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[string]*sharedCall{}
	}
	if c, ok := s.calls[target]; ok && (c.at.IsZero() || now.Sub(c.at) < sharedFor) {
		return c, false
	}
	// Answers are small, but targets are many (a size per card): keep only
	// what is still in flight or fresh.
	for k, c := range s.calls {
		if !c.at.IsZero() && now.Sub(c.at) >= sharedFor {
			delete(s.calls, k)
		}
	}
	c = &sharedCall{done: make(chan struct{})}
	s.calls[target] = c
	return c, true
}

func (s *sharedAnswers) finish(c *sharedCall) {
	s.mu.Lock()
	c.at = time.Now()
	s.mu.Unlock()
	close(c.done)
}

func (c *sharedCall) fail(status int, format string, args ...any) {
	c.status, c.errMsg = status, fmt.Sprintf(format, args...)
}

func (c *sharedCall) write(ctx *fasthttp.RequestCtx) {
	for _, h := range c.header {
		ctx.Response.Header.Set(h[0], h[1])
	}
	if c.errMsg != "" {
		writeError(ctx, c.status, c.errMsg)
		return
	}
	ctx.SetStatusCode(c.status)
	ctx.SetBody(c.body)
}

// serveShared answers a shared endpoint: the first request for a target asks
// go2rtc, with a proxy slot; identical requests meanwhile, and for a second
// after, get the same answer without a slot of their own.
func (p *Go2RTCProxy) serveShared(ctx *fasthttp.RequestCtx, target string) {
	c, leader := p.shared.join(target, time.Now())
	if leader {
		p.fetchShared(ctx, c, target)
		p.shared.finish(c)
	}
	<-c.done
	c.write(ctx)
}

func (p *Go2RTCProxy) fetchShared(ctx *fasthttp.RequestCtx, c *sharedCall, target string) {
	release, err := p.slots.acquire(slotOwner(ctx), shortRequestWait)
	if err != nil {
		c.header = append(c.header, [2]string{"Retry-After", "1"})
		c.fail(fasthttp.StatusServiceUnavailable, "too many live-video requests in flight; try again")
		return
	}
	defer release()
	req, resp := p.upstreamRequest(ctx, target), new(fasthttp.Response)
	req.Header.SetMethod(fasthttp.MethodGet)
	if status, msg := p.roundTrip(req, resp, target); status != 0 {
		c.fail(status, "%s", msg)
		return
	}
	c.status, c.body = resp.StatusCode(), resp.Body()
	for _, h := range []string{"Content-Type", "Cache-Control", "Last-Modified", "ETag"} {
		if v := resp.Header.Peek(h); len(v) > 0 {
			c.header = append(c.header, [2]string{h, string(v)})
		}
	}
}
