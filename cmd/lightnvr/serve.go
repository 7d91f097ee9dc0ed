package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"lightnvr/pkg/api"
	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/lifecycle"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/notify"
	"lightnvr/pkg/onvif"
	"lightnvr/pkg/ota"
	"lightnvr/pkg/record"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/tlscert"
	"lightnvr/pkg/version"
	webdist "lightnvr/web-dist"
)

func runServe(ctx context.Context, g globalOpts, args []string, stdout, stderr io.Writer) error {
	phases := newStartPhases()
	fs := newFlagSet("serve", "serve [--demo]", stderr)
	demo := fs.Bool("demo", false, "add a 'demo' test-pattern stream when there are no streams (needs ffmpeg)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := loadConfig(g.configPath)
	if err != nil {
		return err
	}
	if g.daemon {
		isChild, err := lifecycle.Daemonize(os.Args[1:], cfg.General.LogFile)
		if err != nil {
			return fmt.Errorf("daemonize: %w", err)
		}
		if !isChild {
			return nil
		}
	}
	// A restore staged over the API replaces the configuration and the
	// database now, before either is used; the configuration is read again.
	restored, err := api.ApplyPendingRestore(cfg.Database.Path)
	if err != nil {
		return err
	}
	if restored {
		if cfg, err = loadConfig(g.configPath); err != nil {
			return fmt.Errorf("load the restored configuration: %w", err)
		}
	}
	opts := logOptions(cfg, stderr)
	if g.daemon && opts.File != "" {
		// The daemon's stderr already goes to the log file.
		opts.Output = io.Discard
	}
	logger, ring, err := logx.New(opts)
	if err != nil {
		return fmt.Errorf("set up logging: %w", err)
	}
	slog.SetDefault(logger)
	if restored {
		logger.Warn("applied the restore staged from a backup", "database", cfg.Database.Path)
	}
	phases.done("config")
	d := &daemon{cfg: cfg, log: logger, ring: ring, stdout: stdout, demo: *demo, configArg: g.configPath, events: event.NewBus(), phases: phases}
	return d.run(ctx)
}

func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func logOptions(cfg *config.Config, stderr io.Writer) logx.Options {
	return logx.Options{
		Level:          logx.LevelFromLightNVR(cfg.General.LogLevel),
		Format:         cfg.General.LogFormat,
		Output:         stderr,
		File:           cfg.General.LogFile,
		Syslog:         cfg.General.SyslogEnabled,
		SyslogIdent:    cfg.General.SyslogIdent,
		SyslogFacility: cfg.General.SyslogFacility,
		RingBytes:      cfg.General.LogRingBytes,
	}
}

// daemon is one run of `lightnvr serve`: it owns every long-lived part and stops
// them through the lifecycle coordinator, in priority order.
type daemon struct {
	cfg    *config.Config
	log    *slog.Logger
	ring   *logx.Ring
	stdout io.Writer
	demo   bool

	db        *db.DB
	shutdown  *lifecycle.Coordinator
	stop      context.CancelCauseFunc
	configArg string
	users     *auth.Service
	storage   *storage.Controller
	streams   *streams.Manager
	recording *streams.Recording
	// go2rtcStatus is nil while go2rtc is disabled.
	go2rtcStatus func() go2rtc.Status
	go2rtcCreds  func() go2rtc.Credentials
	go2rtc       *go2rtc.Supervisor
	// cert is the HTTPS certificate; nil while HTTPS is off.
	cert *tlscert.Cert
	// onvifNotify takes the events cameras push to our web port.
	onvifNotify *onvif.Consumers
	// events is the one bus from the detectors and triggers to their
	// consumers: event clips, the detections table, the API's live feed.
	events *event.Bus
	// snapshots keeps the pictures of detection events.
	snapshots *detect.Snapshots
	// mqtt publishes events and state to the [mqtt] broker.
	mqtt *notify.MQTT
	// webhooks posts the bus's events and the storage pressure changes.
	webhooks *notify.Webhooks
	// ota installs and confirms firmware updates; nil without [ota].
	ota *ota.System
	// gate holds the web port from the start; it answers "starting" until
	// the API is up.
	gate   *api.Gate
	web    fs.FS
	phases *startPhases
}

func (d *daemon) run(parent context.Context) error {
	sigCtx, stopSignals := lifecycle.SignalContext(parent, d.log)
	defer stopSignals()
	ctx, cancel := context.WithCancelCause(sigCtx)
	defer cancel(nil)
	d.stop = cancel
	d.shutdown = lifecycle.New(d.log)
	defer d.shutdown.Shutdown(context.Background())

	d.log.Info("starting", "version", version.String(), "config", configSource(d.cfg), "pid", os.Getpid())
	if d.cfg.General.PIDFile != "" {
		if err := os.MkdirAll(filepath.Dir(d.cfg.General.PIDFile), 0o755); err != nil {
			return fmt.Errorf("create pid file directory: %w", err)
		}
		release, err := lifecycle.WritePIDFile(d.cfg.General.PIDFile)
		if err != nil {
			return err
		}
		d.shutdown.Register("pidfile", -10, time.Second, func(context.Context) error { return release() })
	}

	// Before anything slow starts: a certificate that does not load stops
	// start-up at once, with the file named.
	cert, err := d.loadCertificate()
	if err != nil {
		return err
	}
	d.cert = cert
	// The port answers from here on: the UI's page at once, the API (and
	// health) once everything below is up.
	ln, err := d.listen()
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- d.gate.Serve(ln) }()
	d.phases.done("listen")

	if err := d.openDatabase(ctx); err != nil {
		return err
	}
	scheme := "http"
	if cert != nil {
		scheme = "https" // plain HTTP on the port only redirects then
	}
	d.onvifNotify = onvif.NewConsumers(scheme, d.cfg.Web.Port)
	if err := os.MkdirAll(d.cfg.Storage.Path, 0o755); err != nil {
		// Not fatal: the disk may be mounted later; storage reports it until then.
		d.log.Error("create storage directory", "path", d.cfg.Storage.Path, "err", err)
	}
	// Before any recorder starts: segments cut by a crash or power loss are
	// truncated to their last whole part and completed. (Pending deletes are
	// the storage controller's: its Start finishes them.)
	rep, err := record.Recover(ctx, d.db, d.log)
	if err != nil {
		return fmt.Errorf("recover recordings: %w", err)
	}
	if rep != (record.RecoverReport{}) {
		d.log.Info("recovered recordings after an unclean stop", "completed", rep.Completed, "removed", rep.Removed,
			"bytes_truncated", rep.BytesTruncated)
	}
	d.phases.done("recover")

	if err := auth.Bootstrap(ctx, d.db, d.cfg, filepath.Dir(d.cfg.Database.Path), d.stdout); err != nil {
		return err
	}
	authOpts, err := auth.OptionsFromConfig(d.cfg)
	if err != nil {
		return err
	}
	authOpts.Logger = d.log
	d.users = auth.New(d.db, authOpts)
	d.phases.done("users")

	// Long-lived parts run on a context that a signal does not cancel: the
	// coordinator stops them one by one, in priority order, so recorders close
	// their segments before storage, the API and go2rtc go away.
	appCtx, appCancel := context.WithCancel(context.WithoutCancel(ctx))
	d.shutdown.Register("background", -20, time.Second, func(context.Context) error { appCancel(); return nil })

	d.mqtt = d.newMQTT()
	d.startWebhooks()
	scfg := storage.FromConfig(d.cfg, d.db, d.log)
	scfg.OnLevelChange = func(c storage.LevelChange) {
		d.pressureChanged(c)
		d.storagePressure(c)
	}
	sc, err := storage.New(scfg)
	if err != nil {
		return err
	}
	if err := sc.Start(appCtx); err != nil {
		return fmt.Errorf("start storage controller: %w", err)
	}
	// Stops after the recorders (it must not race their last segment) and before the API.
	d.shutdown.Register("storage", 70, 5*time.Second, sc.Stop)
	d.storage = sc
	if swap, err := sc.SetUpSwap(d.cfg.Memory); err != nil {
		d.log.Warn("running without the swap file [memory] asks for", "err", err)
	} else if swap != "" {
		d.log.Info("swap file enabled", "path", swap)
	}
	d.phases.done("storage")
	store := detect.NewStore(d.db, d.events, d.log) // subscribed before any detector runs
	if err := d.startStreams(appCtx); err != nil {
		return err
	}
	d.phases.done("streams")
	d.startDetectionStore(store)
	d.startMQTT()

	d.startOTA()
	srv, err := d.newAPI()
	if err != nil {
		return err
	}
	d.gate.Open(srv)
	d.phases.done("api")
	d.startWatchdog(srv)
	d.confirmOTA(appCtx, srv)
	d.phases.log(d.log)
	d.log.Info("ready", "url", webURL(d.cfg, ln.Addr()), "startup", time.Since(d.phases.started).Round(time.Millisecond))
	fmt.Fprintf(d.stdout, "LightNVR %s is running: open %s\n", version.Version, webURL(d.cfg, ln.Addr()))
	if d.cert != nil {
		fmt.Fprintf(d.stdout, "HTTPS certificate SHA-256 fingerprint: %s\n", d.cert.Fingerprint)
	}

	select {
	case <-ctx.Done():
		d.log.Info("shutting down", "reason", context.Cause(ctx))
	case err := <-serveErr:
		return err
	}
	reports := d.shutdown.Shutdown(context.Background())
	for _, r := range reports {
		if r.Hung {
			d.log.Warn("component did not stop in time", "component", r.Name)
		}
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errRestart):
		return d.reexec()
	case errors.Is(cause, errReboot):
		return exitCode(d.cfg.General.RebootExitCode)
	}
	return nil
}

// rebootFunc is POST /api/system/reboot's action: a clean stop ending in
// [general] reboot_exit_code, on which the supervisor (root, where lightnvr
// is not) reboots the board. nil when no code is set: nothing would.
func (d *daemon) rebootFunc() func() {
	if d.cfg.General.RebootExitCode == 0 {
		return nil
	}
	return func() { d.stop(errReboot) }
}

// savePath is where settings saved over the API go when no file was loaded:
// the first place the next start looks.
func (d *daemon) savePath() string {
	if p := d.cfg.Path(); p != "" {
		return p
	}
	if d.configArg != "" {
		return d.configArg
	}
	if abs, err := filepath.Abs(config.SearchPaths[0]); err == nil {
		return abs
	}
	return config.SearchPaths[0]
}

var (
	errRestart  = errors.New("restart requested over the API")
	errShutdown = errors.New("shutdown requested over the API")
	errReboot   = errors.New("reboot requested over the API")
)

// reexec replaces this process with a fresh lightnvr after a clean shutdown, so a
// restart keeps the pid a supervisor watches and rereads the saved configuration.
func (d *daemon) reexec() error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	d.log.Info("restarting", "exe", exe)
	if err := syscall.Exec(exe, os.Args, os.Environ()); err != nil {
		return fmt.Errorf("restart: exec %s: %w", exe, err)
	}
	return nil
}

func (d *daemon) openDatabase(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(d.cfg.Database.Path), 0o755); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	conn, err := db.Open(ctx, d.cfg.Database.Path)
	if err != nil {
		return err
	}
	d.phases.done("db_open")
	// Migrate logs what it applied.
	if _, err := conn.Migrate(ctx); err != nil {
		conn.Close()
		return err
	}
	d.phases.done("migrations")
	d.db = conn
	// The database closes after everything that writes to it.
	d.shutdown.Register("database", -5, 5*time.Second, func(context.Context) error { return conn.Close() })
	return nil
}

// startStreams brings up go2rtc (managed or external) and the stream manager,
// whose pipelines pull each stream once from go2rtc and record it.
func (d *daemon) startStreams(ctx context.Context) error {
	if !d.cfg.Go2RTC.Enabled {
		d.log.Warn("go2rtc is disabled ([go2rtc] enabled = false): no live view, no recording")
		return nil
	}
	if err := os.MkdirAll(d.cfg.Go2RTC.ConfigDir, 0o755); err != nil {
		return fmt.Errorf("create go2rtc config directory: %w", err)
	}
	g2set := go2rtc.SettingsFromConfig(d.cfg)
	if d.demo {
		// Before go2rtc starts: go2rtc takes exec sources only from its config file.
		g2set.Builtin = append(g2set.Builtin, streams.Demo)
		added, err := streams.EnsureDemo(ctx, d.db, g2set)
		if err != nil {
			return err
		}
		if added {
			d.log.Info("added a demo test-pattern stream", "stream", "demo")
		}
	}
	var mgr *streams.Manager
	sup, err := go2rtc.NewSupervisor(go2rtc.SupervisorOptions{
		Settings: g2set,
		Logger:   d.log,
		Streams:  func(ctx context.Context) ([]go2rtc.Stream, error) { return mgr.DesiredGo2RTC(ctx) },
	})
	if err != nil {
		return err
	}
	det := d.cfg.Detection
	d.snapshots = detect.NewSnapshots(d.cfg.Storage.Path, sup.Client(), d.log)
	d.recording = streams.NewRecording(streams.RecordingOptions{DB: d.db, StorageDir: d.cfg.Storage.Path,
		DirFormat: d.cfg.Storage.MP4DirectoryFormat, Logger: d.log,
		OnWrite: d.storage.Wrote, Bus: d.events, Frames: sup.Client(), APIDetection: d.cfg.APIDetection, Snapshots: d.snapshots,
		RingDir: det.PrebufferPath, RingMaxBytes: det.PrebufferMaxMBPerStream << 20, RingTotalBytes: det.PrebufferMaxMBTotal << 20,
		ONVIFNotify: d.onvifNotify})
	mgr, err = streams.NewManager(streams.Options{
		DB:             d.db,
		Go2RTC:         sup,
		Logger:         d.log,
		StartTimeout:   time.Duration(d.cfg.Streams.StartTimeoutSeconds) * time.Second,
		MinAvailableMB: d.cfg.Streams.MinAvailableMB,
		Pipelines:      d.recording.Factory(),
	})
	if err != nil {
		return err
	}
	if err := sup.Start(ctx); err != nil {
		return fmt.Errorf("start go2rtc: %w", err)
	}
	d.shutdown.Register("go2rtc", lifecycle.PriorityGo2RTC, 10*time.Second, sup.Stop)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("start stream manager: %w", err)
	}
	d.shutdown.Register("streams", lifecycle.PriorityRecorders, 15*time.Second, mgr.Stop)
	d.streams = mgr
	d.go2rtcStatus = sup.Status
	d.go2rtcCreds = sup.Credentials
	d.go2rtc = sup
	return nil
}

// startDetectionStore writes the bus's detections to the database and keeps
// their snapshots. It stops with the detectors and before the database
// closes, writing its last batch.
func (d *daemon) startDetectionStore(store *detect.Store) {
	store.KeepSnapshots(d.snapshots)
	d.runUntilStop("detections", lifecycle.PriorityRecorders, 10*time.Second, store.Run)
}

// runUntilStop runs run on its own goroutine until the coordinator stops
// it, at priority, waiting up to grace for it to return.
func (d *daemon) runUntilStop(name string, priority int, grace time.Duration, run func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); run(ctx) }()
	d.shutdown.Register(name, priority, grace, func(stop context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-stop.Done():
			return stop.Err()
		}
	})
}

// startWebhooks subscribes the webhooks to the bus before any detector runs;
// they stop with the API, after the recorders.
func (d *daemon) startWebhooks() {
	opt := notify.WebhookOptionsFrom(d.cfg.Webhooks)
	opt.Logger = d.log
	d.webhooks = notify.NewWebhooks(opt)
	d.webhooks.Start(d.events)
	d.shutdown.Register("webhooks", lifecycle.PriorityAPI, 5*time.Second, d.webhooks.Stop)
}

// storagePressure sends a pressure level change as a webhook (docs/notify.md).
func (d *daemon) storagePressure(c storage.LevelChange) {
	d.webhooks.Send(notify.KindStorage, time.Now(), struct {
		Previous storage.Level `json:"previous"`
		Current  storage.Level `json:"current"`
		FreePct  float64       `json:"free_pct"`
		storage.Space
	}{c.Previous, c.Current, c.Space.FreePct(), c.Space})
}

// listen takes the web port and starts the gate on it.
func (d *daemon) listen() (net.Listener, error) {
	addr := net.JoinHostPort(d.cfg.Web.BindIP, strconv.Itoa(d.cfg.Web.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the web UI on %s: %w", addr, err)
	}
	d.web = webFS(d.cfg, d.log)
	d.gate = api.NewGate(d.cfg, d.cert, d.web, d.log)
	d.shutdown.Register("http", lifecycle.PriorityAPI, 5*time.Second, d.gate.Shutdown)
	return ln, nil
}

// newAPI builds the API server the gate hands requests to.
func (d *daemon) newAPI() (*api.Server, error) {
	return api.New(api.Deps{
		TLS:      d.cert,
		Config:   d.cfg,
		DB:       d.db,
		Logger:   d.log,
		Web:      d.web,
		Streams:  d.streams,
		Users:    d.users,
		Storage:  d.storage,
		Ingest:   d.recording,
		Logs:     d.ring,
		Events:   d.events,
		Webhooks: d.webhooks,
		// Cameras without a PullPoint push their events to this server.
		ONVIFNotify: d.onvifNotify,
		// Both return at once: the reply goes out, then the run context ends.
		Restart:           func() { d.stop(errRestart) },
		Shutdown:          func() { d.stop(errShutdown) },
		Reboot:            d.rebootFunc(),
		ConfigPath:        d.savePath(),
		Go2RTCStatus:      d.go2rtcStatus,
		Go2RTCCredentials: d.go2rtcCreds,
		Go2RTC:            d.go2rtc,
		MQTT:              d.mqtt,
		OTA:               d.ota,
	})
}

// webFS serves [web] root when it is a directory holding an index.html, and the
// UI built into the binary otherwise, so a fresh box always has a working page.
func webFS(cfg *config.Config, log *slog.Logger) fs.FS {
	if root := cfg.Web.Root; root != "" {
		if st, err := os.Stat(filepath.Join(root, "index.html")); err == nil && !st.IsDir() {
			log.Info("serving web UI from directory", "root", root)
			return os.DirFS(root)
		}
	}
	return webdist.FS
}

// loadCertificate returns the HTTPS certificate, nil while HTTPS is off: the
// user's own files, or the one generated beside the database on first start.
func (d *daemon) loadCertificate() (*tlscert.Cert, error) {
	w := d.cfg.Web
	if !w.HTTPSEnabled {
		return nil, nil
	}
	if w.TLSCertFile != "" {
		c, err := tlscert.Load(w.TLSCertFile, w.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("[web] https_enabled: %w", err)
		}
		if time.Now().After(c.Leaf.NotAfter) {
			d.log.Error("the HTTPS certificate has expired", "cert", c.CertFile, "not_after", c.Leaf.NotAfter)
		}
		d.log.Info("HTTPS with your certificate", "cert", c.CertFile, "subject", c.Leaf.Subject.CommonName,
			"not_after", c.Leaf.NotAfter.Format(time.DateOnly), "sha256", c.Fingerprint)
		return c, nil
	}
	dir := filepath.Dir(d.cfg.Database.Path)
	c, err := tlscert.LoadOrGenerate(dir, tlscert.LocalNames(), time.Now())
	if err != nil {
		return nil, fmt.Errorf("HTTPS certificate in %s: %w", dir, err)
	}
	switch {
	case c.Replaced != "":
		d.log.Warn("generated a new self-signed HTTPS certificate", "cert", c.CertFile, "replaced_because", c.Replaced, "sha256", c.Fingerprint)
	case c.Created:
		d.log.Info("generated a self-signed HTTPS certificate", "cert", c.CertFile, "sha256", c.Fingerprint)
	default:
		d.log.Info("HTTPS with the self-signed certificate", "cert", c.CertFile, "sha256", c.Fingerprint)
	}
	return c, nil
}

func webURL(cfg *config.Config, addr net.Addr) string {
	host := cfg.Web.BindIP
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	port := cfg.Web.Port
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = ta.Port
	}
	scheme := "http://"
	if cfg.Web.HTTPSEnabled {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, strconv.Itoa(port)) + "/"
}

func configSource(cfg *config.Config) string {
	if p := cfg.Path(); p != "" {
		return p
	}
	return "built-in defaults"
}
