package api

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/host"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/storage"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/tlscert"
	"lightnvr/pkg/version"
)

// systemHandler serves health, metrics and the system status and info:
// read-only views of the daemon. The parts they report on are optional; each
// is reported when it is wired.
type systemHandler struct {
	failer
	// liveHLS says whether /hls/ is served (the stream pipelines run).
	liveHLS bool
	stats   *requestStats
	// boot is the configuration the daemon started with, cfg the live one.
	boot    *config.Config
	cfg     func() *config.Config
	db      *db.DB
	storage *storage.Controller
	streams *streams.Manager
	ingest  *streams.Recording
	go2rtc  func() go2rtc.Status
	tls     *tlscert.Cert
	cpu     *cpuSampler
	// history keeps each stream's recent fps and bitrate for ?sparklines=1.
	history *streamHistory
	dbCheck dbWritable
	// players keeps what browsers report of playing each stream.
	players *playerTelemetry
	// mqtt reports the broker connection; nil: no MQTT publisher.
	mqtt MQTTNotifier
	// streamGrace is how long a stream may fail before the daemon is
	// unhealthy (streamFailGrace).
	streamGrace time.Duration
	// verdict is the last reason health gave, so a change is logged once,
	// not on every poll.
	verdict verdictLog
}

var systemRoutes = []endpoint[*systemHandler]{
	{"GET", "/api/health", auth.AccessPublic, (*systemHandler).handleHealth},
	{"GET", "/api/health/hls", auth.AccessViewer, (*systemHandler).handleHLSHealth},
	// LightNVR takes player reports from anyone; ours come from signed-in players.
	{"POST", "/api/telemetry/player", auth.AccessViewer, (*systemHandler).handlePlayerTelemetry},
	{"GET", "/api/system/status", auth.AccessViewer, (*systemHandler).handleSystemStatus},
	{"GET", "/api/system/info", auth.AccessAdmin, (*systemHandler).handleSystemInfo},
	{"GET", "/api/system", auth.AccessAdmin, (*systemHandler).handleSystemInfo},
	// LightNVR serves metrics to anyone; we want a credential. Prometheus
	// scrapes with an API key (X-API-Key or Authorization: Bearer).
	{"GET", "/api/metrics", auth.AccessViewer, (*systemHandler).handleMetrics},
}

// requestStats are the server's request counters, for health and metrics.
type requestStats struct {
	started       time.Time
	total, failed atomic.Uint64
}

func (h *systemHandler) handleSystemStatus(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"status":  "ok",
		"message": "System running normally",
		"uptime":  int64(time.Since(h.stats.started).Seconds()),
		"version": version.Version,
	})
}

// systemInfo is LightNVR's /api/system/info shape, plus our process figures.
type systemInfo struct {
	Version             string            `json:"version"`
	GitCommit           string            `json:"git_commit"`
	BuildDate           string            `json:"build_date"`
	GoVersion           string            `json:"go_version"`
	Arch                string            `json:"arch"`
	Uptime              int64             `json:"uptime"`
	SystemUptime        int64             `json:"system_uptime,omitempty"`
	CPU                 cpuInfo           `json:"cpu"`
	Memory              memInfo           `json:"memory"`
	SystemMemory        memInfo           `json:"systemMemory"`
	Go2RTCMemory        memInfo           `json:"go2rtcMemory"`
	DetectorMemory      memInfo           `json:"detectorMemory"`
	Process             processInfo       `json:"process"`
	Threads             int               `json:"threads"`
	WebThreadPoolSize   int               `json:"webThreadPoolSize"`
	Disk                diskInfo          `json:"disk"`
	SystemDisk          diskInfo          `json:"systemDisk"`
	GlobalRetentionDays int               `json:"global_retention_days"`
	Network             networkInfo       `json:"network"`
	Streams             streamCounts      `json:"streams"`
	Recordings          recordingTotals   `json:"recordings"`
	Go2RTC              *go2rtcInfo       `json:"go2rtc,omitempty"`
	Versions            versionItems      `json:"versions"`
	TLS                 tlsInfo           `json:"tls"`
	Errors              map[string]string `json:"errors,omitempty"`
}

type cpuInfo struct {
	Model string `json:"model"`
	Cores int    `json:"cores"`
	// Usage is the machine's busy share in percent since the previous
	// reading (see cpuSampler); LightNVR's usage.
	Usage float64    `json:"usage"`
	Load  [3]float64 `json:"load"` // 1, 5 and 15 minute load averages
}

// memInfo is LightNVR's {total, used, free} in bytes.
type memInfo struct {
	Total uint64 `json:"total"`
	Used  uint64 `json:"used"`
	Free  uint64 `json:"free"`
}

type processInfo struct {
	PID          int    `json:"pid"`
	RSSBytes     uint64 `json:"rss_bytes"`
	GoHeapBytes  uint64 `json:"go_heap_bytes"`
	GoTotalBytes uint64 `json:"go_total_bytes"`
	Goroutines   uint64 `json:"goroutines"`
}

type diskInfo struct {
	Path  string `json:"path"`
	Total uint64 `json:"total"`
	Used  uint64 `json:"used"`
	Free  uint64 `json:"free"`
}

type networkInfo struct {
	Interfaces []netInterface `json:"interfaces"`
}

type netInterface struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	MAC     string `json:"mac"`
	Up      bool   `json:"up"`
}

type streamCounts struct {
	Active int `json:"active"`
	Total  int `json:"total"`
}

type recordingTotals struct {
	Count int64 `json:"count"`
	Size  int64 `json:"size"`
}

type go2rtcInfo struct {
	Mode      string `json:"mode"`
	State     string `json:"state"`
	Ready     bool   `json:"ready"`
	PID       int    `json:"pid"`
	Version   string `json:"version"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
	Since     int64  `json:"since"`
}

type versionItems struct {
	Items []versionItem `json:"items"`
}

type versionItem struct {
	Name     string `json:"name"`
	Category string `json:"category"`
	Version  string `json:"version"`
	Details  string `json:"details,omitempty"`
}

func (h *systemHandler) handleSystemInfo(ctx *fasthttp.RequestCtx) {
	cfg := h.cfg()
	info := systemInfo{
		Version:             version.Version,
		GitCommit:           version.Commit,
		BuildDate:           version.Date,
		GoVersion:           runtime.Version(),
		Arch:                runtime.GOOS + "/" + runtime.GOARCH,
		Uptime:              int64(time.Since(h.stats.started).Seconds()),
		WebThreadPoolSize:   cfg.Web.WebThreadPoolSize,
		GlobalRetentionDays: cfg.Storage.RetentionDays,
		Network:             networkInfo{Interfaces: interfaces()},
		Errors:              map[string]string{},
	}
	info.CPU = cpuInfo{Model: cpuModel(), Cores: runtime.NumCPU()}
	if u, err := h.cpu.read(); err == nil {
		info.CPU.Usage = u.machine
	} else {
		info.Errors["cpu"] = err.Error()
	}
	if l, err := loadAverage(); err == nil {
		info.CPU.Load = l
	}
	if up, err := systemUptime(); err == nil {
		info.SystemUptime = up
	}

	mi, err := host.ReadMemory(host.MeminfoPath)
	if err != nil {
		info.Errors["memory"] = err.Error()
	}
	ps, err := host.ReadProcess("/proc/self/status")
	if err != nil {
		info.Errors["process"] = err.Error()
	}
	gm := goMemory()
	info.Process = processInfo{PID: os.Getpid(), RSSBytes: ps.RSS, GoHeapBytes: gm.heap, GoTotalBytes: gm.total, Goroutines: gm.goroutines}
	info.Threads = ps.Threads
	info.Memory = memInfo{Total: mi.Total, Used: ps.RSS, Free: mi.Available}
	info.SystemMemory = memInfo{Total: mi.Total, Used: mi.Total - min(mi.Available, mi.Total), Free: mi.Available}
	// Detection runs inside lightnvr (motion) or in a service of its own
	// (the external detector): no detector process of ours holds memory.
	info.DetectorMemory = memInfo{Total: mi.Total, Free: mi.Available}
	info.Go2RTCMemory = memInfo{Total: mi.Total, Free: mi.Available}

	info.Disk = diskInfo{Path: cfg.Storage.Path}
	if d, err := host.StatDisk(cfg.Storage.Path); err != nil {
		info.Errors["disk"] = err.Error()
	} else {
		info.Disk.Total, info.Disk.Used, info.Disk.Free = d.Total, d.Used, d.Free
	}
	info.SystemDisk = diskInfo{Path: "/"}
	if d, err := host.StatDisk("/"); err == nil {
		info.SystemDisk.Total, info.SystemDisk.Used, info.SystemDisk.Free = d.Total, d.Used, d.Free
	}

	if h.streams != nil {
		for _, st := range h.streams.Statuses() {
			info.Streams.Total++
			if st.State == streams.StateActive {
				info.Streams.Active++
			}
		}
	}
	if h.db != nil {
		qctx := requestContext(ctx)
		if n, err := db.CountStreams(qctx, h.db); err == nil {
			info.Streams.Total = max(info.Streams.Total, n)
		} else {
			info.Errors["streams"] = err.Error()
		}
		if u, err := db.StreamUsage(qctx, h.db, ""); err == nil {
			info.Recordings = recordingTotals{Count: u.Count, Size: u.Bytes}
		} else {
			info.Errors["recordings"] = err.Error()
		}
	}
	if h.go2rtc != nil {
		st := h.go2rtc()
		g := &go2rtcInfo{Mode: st.Mode, State: string(st.State), Ready: st.Ready(), PID: st.PID, Version: st.Version,
			Restarts: st.Restarts, LastError: st.LastError}
		if !st.Since.IsZero() {
			g.Since = st.Since.Unix()
		}
		info.Go2RTC = g
		// Only the go2rtc lightnvr runs has a process of ours to measure.
		if st.PID > 0 {
			if gp, err := host.ReadProcess(fmt.Sprintf("/proc/%d/status", st.PID)); err == nil {
				info.Go2RTCMemory.Used = gp.RSS
			}
		}
	}
	info.Versions.Items = h.versions(requestContext(ctx))
	info.TLS = tlsInfoOf(h.tls)
	if len(info.Errors) == 0 {
		info.Errors = nil
	}
	writeJSON(ctx, fasthttp.StatusOK, info)
}

// versions is LightNVR's versions table: what runs, with LightNVR's names
// and categories where it has them.
func (h *systemHandler) versions(ctx context.Context) []versionItem {
	unknown := func(v string, err error) string {
		if err != nil {
			return "unknown"
		}
		return v
	}
	items := []versionItem{
		{Name: "LightNVR", Category: "Application", Version: version.Version, Details: "commit " + version.Commit + ", built " + version.Date},
		{Name: "Base OS", Category: "OS", Version: unknown(host.OSName(host.OSReleasePath))},
		{Name: "Linux kernel", Category: "OS", Version: unknown(host.KernelRelease(host.KernelPath)), Details: runtime.GOOS + "/" + runtime.GOARCH},
		{Name: "Go", Category: "Runtime", Version: runtime.Version()},
	}
	if h.go2rtc != nil {
		st := h.go2rtc()
		items = append(items, versionItem{Name: "go2rtc", Category: "Streaming", Version: cmp.Or(st.Version, "unknown"), Details: st.Mode + ", " + string(st.State)})
	}
	if h.db != nil {
		items = append(items, versionItem{Name: "SQLite", Category: "Database", Version: unknown(h.db.SQLiteVersion(ctx))})
	}
	return items
}

// logsHandler serves the in-memory log.
type logsHandler struct {
	failer
	ring *logx.Ring
	cfg  func() *config.Config
}

var (
	logsRoutes      = []endpoint[*logsHandler]{{"GET", "/api/system/logs", auth.AccessAdmin, (*logsHandler).handleSystemLogs}}
	clearLogsRoutes = []endpoint[*logsHandler]{{"POST", "/api/system/logs/clear", auth.AccessAdmin, (*logsHandler).handleClearLogs}}
)

// logRing is the ring behind /api/system/logs: Deps.Logs, else the ring of
// Deps.Logger when logx.New made it; nil when there is none.
func logRing(deps *Deps) *logx.Ring {
	if deps.Logs != nil {
		return deps.Logs
	}
	if h := logx.HandlerOf(deps.Logger); h != nil {
		return h.Ring()
	}
	return nil
}

// clearLogsUnavailable is LightNVR's answer to clearing a log that is not there.
func clearLogsUnavailable(ctx *fasthttp.RequestCtx) {
	writeJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]any{"success": false, "message": errNoLogRing})
}

const errNoLogRing = "the in-memory log is not available"

// logEntry is one line of /api/system/logs: LightNVR's {timestamp, level,
// message} plus the ring's sequence number and structured attributes.
type logEntry struct {
	Seq       uint64            `json:"seq"`
	Timestamp string            `json:"timestamp"`
	Level     string            `json:"level"`
	Message   string            `json:"message"`
	Attrs     map[string]string `json:"attrs,omitempty"`
}

type logsReply struct {
	Logs    []logEntry `json:"logs"`
	LastSeq uint64     `json:"last_seq"`
	Level   string     `json:"level"`
	File    string     `json:"file"`
}

const (
	defaultLogLimit = 500
	maxLogLimit     = 5000
)

// logTimeLayout has milliseconds and the zone, so lines from one second keep
// their order and LightNVR's last_ts cursor can be parsed back.
const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warning"
	case l >= slog.LevelInfo:
		return "info"
	}
	return "debug"
}

// parseLogLevel accepts LightNVR's names, slog's, and the numeric log_level.
func parseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "debug", "3", "all", "trace":
		return slog.LevelDebug, true
	case "info", "2":
		return slog.LevelInfo, true
	case "warning", "warn", "1":
		return slog.LevelWarn, true
	case "error", "err", "0":
		return slog.LevelError, true
	}
	return 0, false
}

func (h *logsHandler) handleSystemLogs(ctx *fasthttp.RequestCtx) {
	ring := h.ring
	args := ctx.QueryArgs()
	minLevel, ok := parseLogLevel(string(args.Peek("level")))
	if !ok {
		writeError(ctx, fasthttp.StatusBadRequest, "level must be error, warning, info or debug")
		return
	}
	limit := defaultLogLimit
	for _, k := range []string{"limit", "count"} {
		if v := args.Peek(k); len(v) > 0 {
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 1 {
				writeErrorf(ctx, fasthttp.StatusBadRequest, "%s must be a positive integer", k)
				return
			}
			limit = min(n, maxLogLimit)
			break
		}
	}
	var since uint64
	cursor := false
	if v := args.Peek("since"); len(v) > 0 {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "since must be a sequence number (last_seq of a previous reply)")
			return
		}
		since, cursor = n, true
		// A cursor from before a restart is ahead of this process's log.
		if since > ring.LastSeq() {
			since = 0
		}
	}
	var after time.Time
	if v := args.Peek("last_ts"); len(v) > 0 {
		t, err := parseLogTime(string(v))
		if err != nil {
			writeError(ctx, fasthttp.StatusBadRequest, "last_ts must be a timestamp of a previous reply")
			return
		}
		after, cursor = t, true
	}

	recs := ring.Since(since)
	reply := logsReply{Logs: []logEntry{}, LastSeq: since, Level: levelName(minLevel), File: h.cfg().General.LogFile}
	if n := len(recs); n > 0 {
		reply.LastSeq = recs[n-1].Seq
	} else if !cursor {
		reply.LastSeq = ring.LastSeq()
	}
	kept := recs[:0]
	for _, r := range recs {
		// Timestamps carry milliseconds: compare at that precision so the
		// line the cursor names is not returned again.
		if r.Level < minLevel || (!after.IsZero() && !r.Time.Truncate(time.Millisecond).After(after)) {
			continue
		}
		kept = append(kept, r)
	}
	switch {
	case len(kept) <= limit:
	case cursor:
		// A reader following the log gets the oldest first and continues
		// from the last one it got.
		kept = kept[:limit]
		reply.LastSeq = kept[limit-1].Seq
	default:
		kept = kept[len(kept)-limit:]
	}
	for _, r := range kept {
		reply.Logs = append(reply.Logs, logEntry{Seq: r.Seq, Timestamp: r.Time.Format(logTimeLayout), Level: levelName(r.Level), Message: r.Message, Attrs: r.Attrs})
	}
	writeJSON(ctx, fasthttp.StatusOK, reply)
}

func parseLogTime(s string) (time.Time, error) {
	try := func(s string) (time.Time, bool) {
		for _, layout := range []string{logTimeLayout, time.RFC3339Nano, "2006-01-02 15:04:05"} {
			if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	if t, ok := try(s); ok {
		return t, nil
	}
	// An unescaped "+" of the zone arrives as a space.
	if i := strings.LastIndexByte(s, ' '); i > 10 {
		if t, ok := try(s[:i] + "+" + s[i+1:]); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not in the form %s", s, logTimeLayout)
}

func (h *logsHandler) handleClearLogs(ctx *fasthttp.RequestCtx) {
	h.ring.Clear()
	p := PrincipalOf(ctx)
	h.log.Info("log cleared", "by", p.Username)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": "Logs cleared"})
}

// lifecycleAction is POST /api/system/restart or /shutdown: fn signals the
// daemon and returns at once; the daemon's graceful stop lets the reply out.
type lifecycleAction struct {
	log       *slog.Logger
	fn        func()
	what, msg string
}

func (a lifecycleAction) serve(ctx *fasthttp.RequestCtx) {
	a.log.Warn(a.what+" requested", "by", PrincipalOf(ctx).Username)
	writeJSON(ctx, fasthttp.StatusOK, map[string]any{"success": true, "message": a.msg})
	a.fn()
}

// mountLifecycle adds the route of one lifecycle action; without fn it answers 503.
func mountLifecycle(r *router, log *slog.Logger, pattern string, fn func(), what, msg string) {
	table := []endpoint[lifecycleAction]{{"POST", pattern, auth.AccessAdmin, lifecycleAction.serve}}
	mount(r, table, fn != nil, unavailable(what+" is not available"),
		func() lifecycleAction { return lifecycleAction{log: log, fn: fn, what: what, msg: msg} })
}

type goMem struct{ heap, total, goroutines uint64 }

func goMemory() goMem {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/goroutines:goroutines"},
	}
	metrics.Read(samples)
	val := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	return goMem{heap: val(0), total: val(1), goroutines: val(2)}
}

func loadAverage() ([3]float64, error) {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l, err
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		l[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return l, nil
}

func systemUptime() (int64, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, nil
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return int64(v), err
}

// cpuModel reads the CPU name from /proc/cpuinfo: "model name" on x86,
// "cpu model" on MIPS, "Hardware"/"Processor" on ARM.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	var fallback string
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key, val := strings.TrimSpace(string(k)), strings.TrimSpace(string(v))
		switch key {
		case "model name", "cpu model":
			return val
		case "Hardware", "Processor", "system type":
			if fallback == "" {
				fallback = val
			}
		}
	}
	return fallback
}

func interfaces() []netInterface {
	ifs, err := net.Interfaces()
	if err != nil {
		return []netInterface{}
	}
	out := make([]netInterface, 0, len(ifs))
	for _, it := range ifs {
		if it.Flags&net.FlagLoopback != 0 {
			continue
		}
		ni := netInterface{Name: it.Name, MAC: it.HardwareAddr.String(), Up: it.Flags&net.FlagUp != 0}
		if addrs, err := it.Addrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					ni.Address = ipn.IP.String()
					break
				}
			}
		}
		out = append(out, ni)
	}
	return out
}

// cpuSampler measures CPU use as the kernel's counters moved between two
// readings: the machine's busy share and lightnvr's own share of it.
type cpuSampler struct {
	statPath, selfPath string
	// window is the shortest time between readings; a caller within it
	// gets the last figures (two requests a millisecond apart would
	// otherwise compare counters that did not move).
	window time.Duration

	mu         sync.Mutex
	at         time.Time
	last       host.CPUTimes
	lastSelf   uint64
	have       bool
	figures    cpuUsage
	hasFigures bool
}

type cpuUsage struct{ machine, process float64 }

func newCPUSampler() *cpuSampler {
	return &cpuSampler{statPath: host.StatPath, selfPath: host.SelfStatPath, window: time.Second}
}

// firstWindow is how long the first reading waits for a second one.
const firstWindow = 250 * time.Millisecond

// read returns the usage since the previous reading, in percent. The first
// call measures over firstWindow.
func (c *cpuSampler) read() (cpuUsage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hasFigures && time.Since(c.at) < c.window {
		return c.figures, nil
	}
	if !c.have {
		if err := c.sample(); err != nil {
			return cpuUsage{}, err
		}
		time.Sleep(firstWindow)
	}
	prev, prevSelf := c.last, c.lastSelf
	if err := c.sample(); err != nil {
		return cpuUsage{}, err
	}
	if c.last.Total > prev.Total {
		c.figures = cpuUsage{machine: c.last.BusyPct(prev)}
		if c.lastSelf >= prevSelf {
			c.figures.process = min(100, float64(c.lastSelf-prevSelf)/float64(c.last.Total-prev.Total)*100)
		}
		c.hasFigures = true
	}
	return c.figures, nil
}

func (c *cpuSampler) sample() error {
	t, err := host.ReadCPUTimes(c.statPath)
	if err != nil {
		return err
	}
	self, err := host.ReadProcessTicks(c.selfPath)
	if err != nil {
		return err
	}
	c.at, c.last, c.lastSelf, c.have = time.Now(), t, self, true
	return nil
}
