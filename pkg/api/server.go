// Package api serves LightNVR's REST API and web UI over fasthttp.
//
// Every route is registered in one table together with the access it demands
// (see auth.Access); the dispatcher authenticates and authorises before any
// handler runs, so handlers only ever see callers that are allowed to be there.
package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/tlscert"
)

// Authenticator identifies the caller of a request from its session cookie, HTTP
// Basic credentials or API key. It returns (nil, nil) when the request carries no
// valid credentials; an error means the check itself failed (e.g. the database).
type Authenticator interface {
	Authenticate(ctx *fasthttp.RequestCtx) (*auth.Principal, error)
}

// Deps are the parts the API serves. Fields may be nil while the matching feature
// is not wired; the routes that need them answer 503 then.
type Deps struct {
	Config *config.Config
	DB     *db.DB
	Logger *slog.Logger
	Auth   Authenticator
	// Users serves the login, session and user endpoints; when Auth is nil
	// it also becomes the Authenticator.
	Users *auth.Service
	// Web is the UI to serve for paths no route claims.
	Web fs.FS
	// Streams runs the streams; nil answers 503 on the stream write routes.
	Streams *streams.Manager
	// Ingest reports each running stream's ingest and recorder figures.
	Ingest *streams.Recording
	// Logs is the in-memory log served by /api/system/logs; nil falls back
	// to the ring of Logger when it was made by logx.New.
	Logs *logx.Ring
	// Restart and Shutdown are called by POST /api/system/restart and
	// /shutdown after the reply is prepared. They must return at once (signal
	// the daemon); the daemon's graceful stop lets the reply go out. nil → 503.
	Restart  func()
	Shutdown func()
	// ConfigPath is where POST /api/settings saves when the configuration
	// was not loaded from a file ("" → lightnvr.ini beside the database).
	ConfigPath string
	// Go2RTCStatus reports go2rtc for /api/system/info and /api/metrics.
	Go2RTCStatus func() go2rtc.Status
	// Go2RTCCredentials are what go2rtc's API expects from the proxy (nil: none).
	Go2RTCCredentials func() go2rtc.Credentials
	// Storage is the retention controller of the data directory; nil
	// answers 503 on the storage routes.
	Storage *storage.Controller
	// TLS turns HTTPS on, on the same port as HTTP, which then only
	// redirects to it; nil serves plain HTTP.
	TLS *tlscert.Cert
}

// Server is the HTTP front of lightnvr.
type Server struct {
	failer
	deps   Deps
	log    *slog.Logger
	router router
	srv    *fasthttp.Server
	static *staticFiles
	go2rtc go2rtcState
	// settings is the live configuration, replaced by POST /api/settings.
	settings settingsState
	// recJobs runs batch deletions of recordings.
	recJobs *batchJobs
	// hosts is the Host header allowlist (DNS rebinding).
	hosts hostAllowlist
	stats requestStats
}

// New builds the server and its route table.
func New(deps Deps) (*Server, error) {
	if deps.Config == nil {
		return nil, errors.New("api: config is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Auth == nil && deps.Users != nil {
		deps.Auth = NewAuthenticator(deps.Users)
	}
	log := deps.Logger.With("component", "api")
	s := &Server{failer: failer{log}, deps: deps, log: log}
	s.stats.started = time.Now()
	if deps.Web != nil {
		s.static = newStaticFiles(deps.Web)
	}
	s.routes()
	s.srv = &fasthttp.Server{
		Handler:               s.Handle,
		Name:                  "lightnvr",
		ReadTimeout:           60 * time.Second,
		WriteTimeout:          0, // recordings stream for as long as the client reads
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    maxJSONBody,
		NoDefaultServerHeader: false,
		NoDefaultDate:         false,
		Logger:                fasthttpLogger{s.log},
		ReduceMemoryUsage:     true,
	}
	return s, nil
}

// routes builds the route table. Each resource file adds its own block; order
// matters where patterns overlap (first match wins).
func (s *Server) routes() {
	deps, r, f := &s.deps, &s.router, s.failer
	mount(r, systemRoutes, true, nil, func() *systemHandler {
		return &systemHandler{failer: f, stats: &s.stats, boot: deps.Config, cfg: s.config, db: deps.DB, storage: deps.Storage,
			streams: deps.Streams, ingest: deps.Ingest, go2rtc: deps.Go2RTCStatus, tls: deps.TLS}
	})
	users := deps.Users
	endSession := func(context.Context, string) error { return nil }
	if users != nil {
		endSession = users.Logout
	}
	mount(r, loginPageRoutes, true, nil, func() *loginPageHandler {
		return &loginPageHandler{failer: f, web: deps.Config.Web, endSession: endSession}
	})
	mount(r, authRoutes, users != nil, unavailable(errNoUsers), func() *authHandler {
		return &authHandler{failer: f, svc: users, web: deps.Config.Web}
	})
	mount(r, userRoutes, users != nil, unavailable(errNoUsers), func() *usersHandler { return &usersHandler{failer: f, svc: users} })
	s.registerGo2RTCProxy()
	ctl := deps.Storage
	mount(r, storageRoutes, ctl != nil && deps.DB != nil, unavailable("storage controller not running"),
		func() *storageHandler { return &storageHandler{failer: f, ctl: ctl} })
	kick := func() {}
	if ctl != nil {
		kick = ctl.Kick
	}
	mount(r, retentionRoutes, deps.DB != nil, unavailable("database not open"),
		func() *retentionHandler { return &retentionHandler{failer: f, db: deps.DB, kick: kick} })
	mgr := deps.Streams
	status := func(name string) streams.Status { return streams.Status{Name: name, State: streams.StateInactive} }
	if mgr != nil {
		status = mgr.StatusOf
	}
	reads := &streamsHandler{failer: f, db: deps.DB, status: status}
	mount(r, streamReadRoutes, deps.DB != nil, unavailable("database is not open"), func() *streamsHandler { return reads })
	mount(r, streamWriteRoutes, deps.DB != nil && mgr != nil, unavailable("stream manager is not running"),
		func() *streamWriter {
			return &streamWriter{streamsHandler: reads, mgr: mgr, maxStreams: deps.Config.Streams.MaxStreams}
		})
	s.recJobs = newBatchJobs(s.log)
	deleteIDs := func(context.Context, []int64) (int, error) { return 0, errNoController }
	if ctl != nil {
		deleteIDs = ctl.Delete
	}
	mount(r, recordingRoutes, deps.DB != nil, unavailable("database is not available"), func() *recordingsHandler {
		return &recordingsHandler{failer: f, db: deps.DB, storagePath: deps.Config.Storage.Path, deleteIDs: deleteIDs, jobs: s.recJobs}
	})
	mount(r, batchProgressRoutes, true, nil, func() *batchJobs { return s.recJobs })
	s.registerSettingsRoutes()
	ring := logRing(deps)
	logs := func() *logsHandler { return &logsHandler{failer: f, ring: ring, cfg: s.config} }
	mount(r, logsRoutes, ring != nil, unavailable(errNoLogRing), logs)
	mount(r, clearLogsRoutes, ring != nil, clearLogsUnavailable, logs)
	mountLifecycle(r, s.log, "/api/system/restart", deps.Restart, "restart", "Restarting LightNVR")
	mountLifecycle(r, s.log, "/api/system/shutdown", deps.Shutdown, "shutdown", "Shutting down LightNVR")
	mount(r, setupRoutes, deps.DB != nil, unavailable("database is not available"),
		func() *setupHandler { return &setupHandler{failer: f, db: deps.DB} })
}

// route registers a handler with the access its callers need.
func (s *Server) route(method, pattern string, access auth.Access, h fasthttp.RequestHandler) {
	s.router.add(method, pattern, access, h)
}

// Handle is the fasthttp entry point: headers, routing, authentication,
// authorisation, panic containment, then the handler or the static UI.
func (s *Server) Handle(ctx *fasthttp.RequestCtx) {
	s.stats.total.Add(1)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panic", "method", string(ctx.Method()), "path", string(ctx.Path()), "panic", r, "stack", string(debug.Stack()))
			ctx.ResetBody()
			writeError(ctx, fasthttp.StatusInternalServerError, "internal error")
		}
		if ctx.Response.StatusCode() >= 400 {
			s.stats.failed.Add(1)
		}
	}()
	setSecurityHeaders(ctx)
	// A foreign Host is refused before anything else, the HTTPS redirect
	// included: its Location would carry the attacker's name.
	if !s.checkHost(ctx) || s.redirectToHTTPS(ctx) {
		return
	}

	path := string(ctx.Path())
	method := string(ctx.Method())
	rt, params, mismatch := s.router.match(method, path)
	if rt == nil {
		switch {
		case mismatch:
			writeErrorf(ctx, fasthttp.StatusMethodNotAllowed, "method %s not allowed on %s", method, path)
		case strings.HasPrefix(path, "/api/"):
			writeErrorf(ctx, fasthttp.StatusNotFound, "no such endpoint: %s %s", method, path)
		case s.static != nil && (method == fasthttp.MethodGet || method == fasthttp.MethodHead):
			s.static.serve(ctx)
		default:
			writeError(ctx, fasthttp.StatusNotFound, "Not Found")
		}
		return
	}
	if params != nil {
		ctx.SetUserValue(userValueParams, params)
	}
	defer withRequestContext(ctx)()
	if !s.authorize(ctx, rt) {
		return
	}
	rt.handler(ctx)
}

// authorize resolves the caller and checks the route's access. It writes the
// 401/403 reply itself and returns false when the request must stop.
func (s *Server) authorize(ctx *fasthttp.RequestCtx, rt *route) bool {
	var p *auth.Principal
	if s.deps.Auth != nil {
		var err error
		p, err = s.deps.Auth.Authenticate(ctx)
		if err != nil {
			// A rate-limited Basic login is 429 with Retry-After.
			s.fail(ctx, "authentication", err)
			return false
		}
	}
	if p != nil {
		ctx.SetUserValue(userValuePrincipal, p)
	}
	if rt.access == auth.AccessPublic {
		return true
	}
	if p == nil {
		writeError(ctx, fasthttp.StatusUnauthorized, "Unauthorized")
		return false
	}
	if !p.Role.Allows(rt.access) {
		writeErrorf(ctx, fasthttp.StatusForbidden, "Forbidden: %s privileges required", rt.access)
		return false
	}
	return checkCSRF(ctx, p)
}

func setSecurityHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; frame-ancestors 'self'; object-src 'none'; base-uri 'self'")
}

// Serve answers requests on ln until Shutdown; with Deps.TLS, both HTTPS and
// HTTP on it.
func (s *Server) Serve(ln net.Listener) error {
	if s.deps.TLS != nil {
		ln = newSniffListener(ln, tlsConfig(s.deps.TLS), s.srv.ReadTimeout)
	}
	if err := s.srv.Serve(ln); err != nil {
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for open requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeGo2RTCProxy()
	if err := s.recJobs.close(ctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	return s.srv.ShutdownWithContext(ctx)
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
