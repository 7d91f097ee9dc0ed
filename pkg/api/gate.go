package api

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/config"
	"lightnvr/pkg/tlscert"
)

// Gate holds the web port from the first moment of start-up. Until Open
// hands it the Server it serves the web UI's files and answers every API
// request 503 "starting" — GET /api/health included, so no supervisor or
// installer takes a daemon that is still migrating its database for a
// healthy one. From Open on, every request goes to the Server.
type Gate struct {
	starting *Server // static files, Host check and HTTPS redirect only
	open     atomic.Pointer[Server]
	srv      *fasthttp.Server
}

// NewGate returns the gate for the web port; cert is the HTTPS
// certificate (nil while HTTPS is off), web the UI's files.
func NewGate(cfg *config.Config, cert *tlscert.Cert, web fs.FS, log *slog.Logger) *Gate {
	s := &Server{failer: failer{log.With("component", "api")}, auth: anonymous{}, tls: cert, settings: newLiveConfig(cfg)}
	if web != nil {
		s.static = newStaticFiles(web)
	}
	g := &Gate{starting: s}
	g.srv = newHTTPServer(g.handle, s.log)
	return g
}

func (g *Gate) handle(ctx *fasthttp.RequestCtx) {
	if s := g.open.Load(); s != nil {
		s.Handle(ctx)
		return
	}
	g.starting.handleStarting(ctx)
}

// Open hands every request from now on to s, which must not Serve itself.
func (g *Gate) Open(s *Server) { g.open.Store(s) }

// Serve answers requests on ln until Shutdown.
func (g *Gate) Serve(ln net.Listener) error { return serve(g.srv, g.starting.tls, ln) }

// Shutdown stops the opened Server's parts, then the port, waiting for open
// requests until ctx ends.
func (g *Gate) Shutdown(ctx context.Context) error {
	if s := g.open.Load(); s != nil {
		if err := s.Shutdown(ctx); err != nil {
			g.starting.log.Warn("shutdown", "err", err)
		}
	}
	return g.srv.ShutdownWithContext(ctx)
}

// startingHealth is /api/health's answer before the daemon is up.
type startingHealth struct {
	Healthy bool   `json:"healthy"`
	Status  string `json:"status"`
}

// handleStarting answers while the daemon starts: the UI's pages and files,
// and 503 with Retry-After for everything else.
func (s *Server) handleStarting(ctx *fasthttp.RequestCtx) {
	setSecurityHeaders(ctx)
	if !s.checkHost(ctx) || s.redirectToHTTPS(ctx) {
		return
	}
	path := string(ctx.Path())
	api := strings.HasPrefix(path, "/api/") || path == "/api"
	if !api && s.static != nil && (ctx.IsGet() || ctx.IsHead()) {
		s.static.serve(ctx)
		return
	}
	ctx.Response.Header.Set("Retry-After", "1")
	if path == "/api/health" {
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, startingHealth{Status: "starting"})
		return
	}
	writeError(ctx, fasthttp.StatusServiceUnavailable, "LightNVR is starting")
}
