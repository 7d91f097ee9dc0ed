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
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/hls"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/notify"
	"lightnvr/pkg/onvif"
	"lightnvr/pkg/ota"
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
	// Reboot stops the daemon so that its supervisor reboots the board
	// (POST /api/system/reboot); nil when nothing would.
	Reboot func()
	// ConfigPath is where POST /api/settings saves when the configuration
	// was not loaded from a file ("" → lightnvr.ini beside the database).
	ConfigPath string
	// Go2RTCStatus reports go2rtc for /api/system/info and /api/metrics.
	Go2RTCStatus func() go2rtc.Status
	// Go2RTCCredentials are what go2rtc's API expects from the proxy (nil: none).
	Go2RTCCredentials func() go2rtc.Credentials
	// Go2RTC is the go2rtc supervisor, for its override file and restarts (nil: 503).
	Go2RTC *go2rtc.Supervisor
	// Storage is the retention controller of the data directory; nil
	// answers 503 on the storage routes.
	Storage *storage.Controller
	// TLS turns HTTPS on, on the same port as HTTP, which then only
	// redirects to it; nil serves plain HTTP.
	TLS *tlscert.Cert
	// Events is the bus of detection events: POST /api/motion/trigger
	// publishes on it, the live event feed reads it; nil answers 503 on both.
	Events *event.Bus
	// OTA installs firmware bundles into the inactive slot; nil (no [ota]
	// env_config) answers 503 on the OTA routes.
	OTA *ota.System
	// MQTT is the MQTT publisher: its broker state in /api/health, and
	// changed mqtt_* settings applied without a restart. nil: none.
	MQTT MQTTNotifier
	// Webhooks sends the signed webhooks; nil answers 503 on their routes.
	Webhooks *notify.Webhooks
	// ONVIFNotify takes the events cameras push to us (ONVIF Basic
	// Notification); nil answers 503 on its route.
	ONVIFNotify *onvif.Consumers
}

// MQTTNotifier is what the API needs of the MQTT publisher.
type MQTTNotifier interface {
	Status() notify.MQTTStatus
	Reconfigure(config.MQTTConfig)
}

// Server is the HTTP front of lightnvr. The routes are served by one handler
// per resource, each built with the parts it needs (see routes).
type Server struct {
	failer
	router router
	srv    *fasthttp.Server
	static *staticFiles
	// auth identifies callers; users, when wired, also decides which
	// proxies are trusted to say a request came over HTTPS.
	auth  Authenticator
	users *auth.Service
	tls   *tlscert.Cert
	// settings is the live configuration, replaced by POST /api/settings.
	settings *liveConfig
	// proxy is the go2rtc proxy, nil when go2rtc is disabled.
	proxy *Go2RTCProxy
	// recJobs runs batch deletions of recordings.
	recJobs *batchJobs
	// thumbs makes the recordings' thumbnails (nil without a database).
	thumbs *thumbnailsHandler
	// hosts is the Host header allowlist (DNS rebinding).
	hosts hostAllowlist
	stats requestStats
	// system serves health and metrics; it samples the streams' history
	// until stop closes (Shutdown).
	system   *systemHandler
	stop     chan struct{}
	stopOnce sync.Once
	// db is where the stream a route acts on is looked up (allowed_tags).
	db *db.DB
	// live serves live HLS; nil when the stream pipelines are not wired.
	live *hls.Server
}

// New builds the server and its route table.
func New(deps Deps) (*Server, error) {
	if deps.Config == nil {
		return nil, errors.New("api: config is required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Auth == nil {
		deps.Auth = anonymous{}
		if deps.Users != nil {
			deps.Auth = NewAuthenticator(deps.Users)
		}
	}
	log := deps.Logger.With("component", "api")
	s := &Server{failer: failer{log}, auth: deps.Auth, users: deps.Users, tls: deps.TLS,
		settings: newLiveConfig(deps.Config), recJobs: newBatchJobs(log), stop: make(chan struct{}), db: deps.DB}
	s.stats.started = time.Now()
	if deps.Web != nil {
		s.static = newStaticFiles(deps.Web)
	}
	s.routes(&deps)
	s.srv = newHTTPServer(s.Handle, s.log)
	return s, nil
}

// newHTTPServer is the web port's fasthttp server, whether it runs a Server
// or a Gate.
func newHTTPServer(h fasthttp.RequestHandler, log *slog.Logger) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:            h,
		Name:               "lightnvr",
		ReadTimeout:        60 * time.Second,
		WriteTimeout:       0, // recordings stream for as long as the client reads
		IdleTimeout:        120 * time.Second,
		MaxRequestBodySize: maxJSONBody,
		// Firmware and restore uploads stream past MaxRequestBodySize (to
		// flash or disk, never whole in memory, and only once the caller is
		// authorized); boundBody keeps every other route's body whole and bounded.
		StreamRequestBody:     true,
		NoDefaultServerHeader: false,
		// No Date header: fasthttp keeps it with a goroutine that wakes
		// the process every second, busy or idle, and it will not take
		// one set by the handler. Without it, one recording stream took
		// 3.5 % less CPU and 13 % fewer context switches. Clients here
		// (the UI, HLS players, scripts) date responses by arrival.
		NoDefaultDate:     true,
		Logger:            fasthttpLogger{log},
		ReduceMemoryUsage: true,
		ErrorHandler:      unreadableRequest,
	}
}

// anonymous is the Authenticator without one: every caller is nobody.
type anonymous struct{}

func (anonymous) Authenticate(*fasthttp.RequestCtx) (*auth.Principal, error) { return nil, nil }

// routes builds the route table, resource by resource. A resource whose
// parts are not wired keeps its routes, which answer 503. Order matters where
// patterns overlap (first match wins).
func (s *Server) routes(deps *Deps) {
	r, f := &s.router, s.failer
	s.liveHLSRoutes(deps)
	s.system = &systemHandler{liveHLS: s.live != nil, failer: f, stats: &s.stats, boot: deps.Config, cfg: s.settings.get, db: deps.DB, storage: deps.Storage,
		streams: deps.Streams, ingest: deps.Ingest, go2rtc: deps.Go2RTCStatus, tls: deps.TLS, cpu: newCPUSampler(), history: newStreamHistory(),
		streamGrace: streamFailGrace, players: newPlayerTelemetry(), mqtt: deps.MQTT}
	mount(r, systemRoutes, true, nil, func() *systemHandler { return s.system })
	if deps.Streams != nil && deps.Ingest != nil {
		go s.system.runHistory(s.stop)
	}
	s.accountRoutes(deps)
	s.go2rtcAdminRoutes(deps)
	s.proxy = serverProxy(deps.Config.Go2RTC, deps.Go2RTCCredentials, s.log)
	mount(r, go2rtcRoutes, s.proxy != nil, unavailable("go2rtc is disabled"), func() *Go2RTCProxy { return s.proxy })
	s.streamRoutes(deps)
	s.detectionRoutes(deps)
	s.recordingRoutes(deps)
	s.exportRoutes(deps)
	mount(r, timelineRoutes, deps.DB != nil, unavailable("database is not available"),
		func() *timelineHandler { return &timelineHandler{failer: f, db: deps.DB} })
	mount(r, ptzRoutes, deps.DB != nil, unavailable("database is not available"), func() *ptzHandler { return newPTZHandler(f, deps.DB) })
	mount(r, onvifNotifyRoutes, deps.ONVIFNotify != nil, unavailable("camera notifications are not taken"),
		func() *onvifNotifyHandler { return &onvifNotifyHandler{failer: f, consumers: deps.ONVIFNotify} })
	mount(r, snapshotRoutes, true, nil, func() *snapshotsHandler { return &snapshotsHandler{failer: f, storage: deps.Config.Storage.Path} })
	mount(r, motionRoutes, deps.DB != nil && deps.Events != nil, unavailable("the event bus is not running"), func() *motionHandler { return newMotionHandler(f, deps.DB, deps.Events, deps.Ingest) })
	mount(r, webhookRoutes, deps.Webhooks != nil, unavailable("webhooks are not running"),
		func() *webhooksHandler { return &webhooksHandler{hooks: deps.Webhooks, live: s.settings} })
	mount(r, mqttRoutes, true, nil, func() *mqttHandler { return &mqttHandler{live: s.settings} })
	mount(r, settingsRoutes, true, nil, func() *settingsHandler {
		return &settingsHandler{failer: f, live: s.settings, configPath: deps.ConfigPath, root: deps.Logger, go2rtc: deps.Go2RTC, mqtt: deps.MQTT}
	})
	ring := logRing(deps)
	logs := func() *logsHandler { return &logsHandler{failer: f, ring: ring, cfg: s.settings.get} }
	mount(r, logsRoutes, ring != nil, unavailable(errNoLogRing), logs)
	mount(r, clearLogsRoutes, ring != nil, clearLogsUnavailable, logs)
	mountLifecycle(r, s.log, "/api/system/restart", deps.Restart, "restart", "Restarting LightNVR")
	mountLifecycle(r, s.log, "/api/system/shutdown", deps.Shutdown, "shutdown", "Shutting down LightNVR")
	mountLifecycle(r, s.log, "/api/system/reboot", deps.Reboot, "reboot", "Rebooting the device")
	s.otaRoutes(deps)
	mount(r, setupRoutes, deps.DB != nil, unavailable("database is not available"),
		func() *setupHandler { return &setupHandler{failer: f, db: deps.DB} })
	mount(r, pprofRoutes, deps.Config.Web.PprofEnabled, pprofOff, func() pprofHandler { return pprofHandler{} })
	mount(r, backupRoutes, deps.DB != nil, unavailable("database is not available"),
		func() *backupHandler {
			return &backupHandler{failer: f, db: deps.DB, live: s.settings, configPath: deps.ConfigPath}
		})
}

// accountRoutes mounts logging in and out and the user accounts.
func (s *Server) accountRoutes(deps *Deps) {
	r, f, users := &s.router, s.failer, deps.Users
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
}

// streamRoutes mounts the storage, retention and stream routes.
func (s *Server) streamRoutes(deps *Deps) {
	r, f, ctl, mgr := &s.router, s.failer, deps.Storage, deps.Streams
	mount(r, storageRoutes, ctl != nil && deps.DB != nil, unavailable("storage controller not running"),
		func() *storageHandler { return &storageHandler{failer: f, ctl: ctl} })
	kick := func() {}
	if ctl != nil {
		kick = ctl.Kick
	}
	mount(r, retentionRoutes, deps.DB != nil, unavailable("database not open"),
		func() *retentionHandler { return &retentionHandler{failer: f, db: deps.DB, kick: kick} })
	status := func(name string) streams.Status { return streams.Status{Name: name, State: streams.StateInactive} }
	if mgr != nil {
		status = mgr.StatusOf
	}
	reads := &streamsHandler{failer: f, db: deps.DB, status: status, liveHLS: s.live != nil}
	mount(r, streamReadRoutes, deps.DB != nil, unavailable("database is not open"), func() *streamsHandler { return reads })
	var writer *streamWriter
	if deps.DB != nil && mgr != nil {
		writer = &streamWriter{streamsHandler: reads, mgr: mgr, maxStreams: deps.Config.Streams.MaxStreams}
	}
	mount(r, streamWriteRoutes, writer != nil, unavailable("stream manager is not running"), func() *streamWriter { return writer })
	mount(r, manualRoutes, deps.DB != nil && deps.Ingest != nil, unavailable("recording is not running"),
		func() *manualHandler { return &manualHandler{streamsHandler: reads, rec: deps.Ingest} })
	s.onvifRoutes(deps, writer)
}

// onvifRoutes mounts ONVIF discovery and adding streams from profiles; the
// daemon (a stream manager) also scans in the background while [onvif]
// discovery_enabled is on, until Shutdown.
func (s *Server) onvifRoutes(deps *Deps, writer *streamWriter) {
	h := &onvifHandler{failer: s.failer, streams: writer, cfg: s.settings.get, found: newONVIFDevices()}
	mount(&s.router, onvifDiscoveryRoutes, true, nil, func() *onvifHandler { return h })
	mount(&s.router, onvifDeviceRoutes, true, nil, func() *onvifHandler { return h })
	if writer != nil {
		go h.found.runDiscovery(s.stop, s.settings.get, s.log)
	}
}

// recordingRoutes mounts the recording routes.
func (s *Server) recordingRoutes(deps *Deps) {
	deleteIDs := func(context.Context, []int64) (int, error) { return 0, errNoController }
	if deps.Storage != nil {
		deleteIDs = deps.Storage.Delete
	}
	reads := &recordingsHandler{failer: s.failer, db: deps.DB, storagePath: deps.Config.Storage.Path, deleteIDs: deleteIDs, jobs: s.recJobs}
	mount(&s.router, recordingChangeRoutes, deps.DB != nil && deps.Storage != nil, unavailable("storage controller not running"),
		func() *recordingWriter { return &recordingWriter{recordingsHandler: reads, store: deps.Storage} })
	mount(&s.router, thumbnailRoutes, deps.DB != nil, unavailable("database is not available"), func() *thumbnailsHandler {
		s.thumbs = newThumbnails(reads, func() (bool, int) {
			st := s.settings.get().Storage
			return st.GenerateThumbnails, st.ThumbnailsPerRecording
		})
		return s.thumbs
	})
	mount(&s.router, batchDownloadRoutes, deps.DB != nil, unavailable("database is not available"),
		func() *batchDownloads { return newBatchDownloads(reads) })
	mount(&s.router, recordingTagRoutes, deps.DB != nil, unavailable("database is not available"),
		func() *recordingTagsHandler { return &recordingTagsHandler{failer: s.failer, db: deps.DB} })
	mount(&s.router, recordingRoutes, deps.DB != nil, unavailable("database is not available"), func() *recordingsHandler { return reads })
	mount(&s.router, batchProgressRoutes, true, nil, func() *batchJobs { return s.recJobs })
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
	if !s.authorize(ctx, rt) || !s.inScope(ctx, rt) || !boundBody(ctx, rt) {
		return
	}
	rt.handler(ctx)
}

// authorize resolves the caller and checks the route's access. It writes the
// 401/403 reply itself and returns false when the request must stop.
func (s *Server) authorize(ctx *fasthttp.RequestCtx, rt *route) bool {
	p, err := s.auth.Authenticate(ctx)
	if err != nil {
		// A rate-limited Basic login is 429 with Retry-After.
		s.fail(ctx, "authentication", err)
		return false
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
	h.Set("Content-Security-Policy", basePolicy)
}

// Serve answers requests on ln until Shutdown; with Deps.TLS, both HTTPS and
// HTTP on it.
func (s *Server) Serve(ln net.Listener) error { return serve(s.srv, s.tls, ln) }

// serve runs srv on ln; with cert, both HTTPS and HTTP on it.
func serve(srv *fasthttp.Server, cert *tlscert.Cert, ln net.Listener) error {
	if cert != nil {
		ln = newSniffListener(ln, tlsConfig(cert), srv.ReadTimeout)
	}
	if err := srv.Serve(ln); err != nil {
		return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for open requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { close(s.stop) })
	// Hijacked WebSockets are not covered by the HTTP server's shutdown.
	if s.proxy != nil {
		s.proxy.Close()
	}
	if err := s.recJobs.close(ctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	if s.live != nil {
		s.live.Close()
	}
	return s.srv.ShutdownWithContext(ctx)
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}
