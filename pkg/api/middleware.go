package api

import (
	"bytes"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
)

// Cookie names, LightNVR's.
const (
	cookieSession       = "session"
	cookieTrustedDevice = "trusted_device"
)

// serviceAuthenticator resolves a request's caller through auth.Service in
// LightNVR's order: session cookie, HTTP Basic, API key (X-API-Key, then
// Authorization: Bearer).
type serviceAuthenticator struct {
	svc *auth.Service
}

// NewAuthenticator returns the Authenticator backed by svc.
func NewAuthenticator(svc *auth.Service) Authenticator { return serviceAuthenticator{svc: svc} }

func (a serviceAuthenticator) Authenticate(ctx *fasthttp.RequestCtx) (*auth.Principal, error) {
	svc := a.svc
	if !svc.Options().Enabled {
		return svc.Anonymous(), nil
	}
	c := requestClient(ctx, svc)
	if tok := ctx.Request.Header.Cookie(cookieSession); len(tok) > 0 {
		p, err := svc.AuthenticateSession(requestContext(ctx), string(tok), c)
		if err != nil || p != nil {
			return p, err
		}
		// A dead session cookie: tell the browser to drop it (LightNVR does
		// this on /api/auth/verify; doing it everywhere is harmless).
		expireCookie(ctx, cookieSession)
	}
	authz := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	cred := auth.ParseAuthorization(string(authz))
	if cred.Scheme == "basic" {
		return svc.AuthenticateBasic(requestContext(ctx), cred.Username, cred.Password, c)
	}
	if key := ctx.Request.Header.Peek("X-API-Key"); len(key) > 0 {
		return svc.AuthenticateAPIKey(requestContext(ctx), string(key), c)
	}
	if cred.Scheme == "bearer" {
		return svc.AuthenticateAPIKey(requestContext(ctx), cred.Token, c)
	}
	return svc.Anonymous(), nil
}

// peerAddr is the TCP peer of the connection, invalid for non-IP transports.
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

func requestClient(ctx *fasthttp.RequestCtx, svc *auth.Service) auth.Client {
	ip := svc.ClientIP(peerAddr(ctx), string(ctx.Request.Header.Peek("X-Forwarded-For")), string(ctx.Request.Header.Peek("X-Real-IP")))
	return auth.Client{IP: ip, UserAgent: string(ctx.Request.Header.UserAgent())}
}

// requestIsHTTPS decides the Secure attribute: TLS here, or TLS at a trusted
// proxy that says so. X-Forwarded-Proto from anyone else is ignored.
func requestIsHTTPS(ctx *fasthttp.RequestCtx, svc *auth.Service) bool {
	if ctx.IsTLS() {
		return true
	}
	proto := ctx.Request.Header.Peek("X-Forwarded-Proto")
	return len(proto) > 0 && svc != nil && svc.TrustedProxy(peerAddr(ctx)) && bytes.EqualFold(bytes.TrimSpace(proto), []byte("https"))
}

func setCookie(ctx *fasthttp.RequestCtx, name, value string, maxAge time.Duration, secure bool) {
	var c fasthttp.Cookie
	c.SetKey(name)
	c.SetValue(value)
	c.SetPath("/")
	c.SetMaxAge(int(maxAge / time.Second))
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	c.SetSecure(secure)
	ctx.Response.Header.SetCookie(&c)
}

func expireCookie(ctx *fasthttp.RequestCtx, name string) {
	var c fasthttp.Cookie
	c.SetKey(name)
	c.SetValue("")
	c.SetPath("/")
	c.SetMaxAge(-1) // fasthttp writes Max-Age=0 for a negative value
	c.SetHTTPOnly(true)
	c.SetSameSite(fasthttp.CookieSameSiteLaxMode)
	ctx.Response.Header.SetCookie(&c)
}

func writeRateLimited(ctx *fasthttp.RequestCtx, rl *auth.RateLimitedError) {
	secs := int((rl.RetryAfter + time.Second - 1) / time.Second)
	ctx.Response.Header.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeError(ctx, fasthttp.StatusTooManyRequests, "Too many login attempts. Please try again later.")
}

// isSafeMethod: methods that must not change state.
func isSafeMethod(m []byte) bool {
	return bytes.Equal(m, []byte("GET")) || bytes.Equal(m, []byte("HEAD")) || bytes.Equal(m, []byte("OPTIONS"))
}

// checkCSRF guards cookie-authenticated state changes. A browser sends the
// session cookie on cross-site form posts (SameSite=Lax still allows
// top-level POST navigations from subdomains and older browsers vary), but a
// cross-site page cannot send a JSON content type or a custom header without
// a CORS preflight, which we never grant. So a state-changing request that
// rides on the cookie must carry one of them, and a foreign Origin is refused
// outright. Basic and API-key callers are scripts, not browsers with ambient
// credentials, and are exempt.
func checkCSRF(ctx *fasthttp.RequestCtx, p *auth.Principal) bool {
	if p == nil || p.Method != auth.MethodSession || isSafeMethod(ctx.Method()) {
		return true
	}
	if !originMatchesHost(ctx) {
		writeError(ctx, fasthttp.StatusForbidden, "cross-origin request refused")
		return false
	}
	// PUT, PATCH and DELETE need a preflight from a cross-site page, so only
	// POST (what a form or a no-cors fetch sends) has to prove it is ours.
	// LightNVR's UI deletes with a bare DELETE.
	if !ctx.IsPost() || len(ctx.Request.Header.Peek("X-Requested-With")) > 0 {
		return true
	}
	ct := ctx.Request.Header.ContentType()
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	// application/sdp is how LightNVR's own UI posts a WebRTC offer; like
	// JSON, a cross-site page cannot send it without a preflight.
	ct = bytes.TrimSpace(ct)
	if bytes.EqualFold(ct, []byte("application/json")) || bytes.EqualFold(ct, []byte("application/sdp")) {
		return true
	}
	writeError(ctx, fasthttp.StatusForbidden, "CSRF check failed: send the request with Content-Type: application/json (application/sdp for a WebRTC offer) or an X-Requested-With header")
	return false
}

// originMatchesHost reports whether the Origin header, when present, names
// this host ("null", sent by sandboxed and file pages, never does).
func originMatchesHost(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return true
	}
	if string(origin) == "null" {
		return false
	}
	u, err := url.Parse(string(origin))
	if err != nil || u.Host == "" {
		return false
	}
	return u.Host == string(ctx.Host())
}
