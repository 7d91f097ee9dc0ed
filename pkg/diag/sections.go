package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sys/unix"

	"lightnvr/pkg/db"
	"lightnvr/pkg/host"
	"lightnvr/pkg/httpclient"
	"lightnvr/pkg/ota"
	"lightnvr/pkg/version"
)

// collector holds what several sections share: one HTTP client, one lazily
// opened database and the daemon's /api/health answer (fetched once).
type collector struct {
	opt    Options
	client *httpclient.Client

	dbOnce sync.Once
	db     *db.DB
	dbErr  error

	healthOnce sync.Once
	health     *healthReply
	healthErr  error
}

func newCollector(opt Options) *collector {
	if opt.ProcRoot == "" {
		opt.ProcRoot = "/proc"
	}
	if opt.ReleaseFile == "" {
		opt.ReleaseFile = "/etc/lightnvr-release"
	}
	return &collector{opt: opt, client: httpclient.New(httpclient.Options{})}
}

func (c *collector) close() {
	// The report talks to loopback once per endpoint: nothing to keep alive.
	c.client.CloseIdle()
	if c.db != nil {
		_ = c.db.Close()
	}
}

// database opens the DB read-mostly, once; a missing file is reported rather
// than created.
func (c *collector) openDB(ctx context.Context) (*db.DB, error) {
	c.dbOnce.Do(func() {
		if c.opt.DBPath == "" {
			c.dbErr = errors.New("no database path configured")
			return
		}
		if _, err := os.Stat(c.opt.DBPath); err != nil {
			c.dbErr = fmt.Errorf("database %s: %w", c.opt.DBPath, err)
			return
		}
		c.db, c.dbErr = db.Open(ctx, c.opt.DBPath)
	})
	return c.db, c.dbErr
}

func (c *collector) proc(name string) string { return filepath.Join(c.opt.ProcRoot, name) }

func (c *collector) version(ctx context.Context, b *builder) error {
	b.summary = version.String()
	b.add("lightnvr", "%s", version.String())
	if rel, err := os.ReadFile(c.opt.ReleaseFile); err == nil {
		first, _, _ := strings.Cut(string(rel), "\n")
		b.add("firmware", "%s", strings.TrimSpace(first))
		b.summary = strings.TrimSpace(first) + "; " + version.Version
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		b.add("kernel", "%s %s %s", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]))
	}
	cfg := c.opt.ConfigPath
	if cfg == "" {
		cfg = "built-in defaults"
	}
	b.add("config", "%s", cfg)
	c.slots(b)
	return nil
}

// slots adds both firmware slots' versions and the boot counter. A rolled
// back update is a warning: the version shown failed to come up.
func (c *collector) slots(b *builder) {
	if c.opt.OTA == nil {
		return
	}
	st, err := c.opt.OTA.Status()
	if err != nil {
		b.add("slots", "U-Boot environment unreadable: %v", err)
		b.warn()
		return
	}
	b.add("slots", "%s", ota.Summary(st))
	b.add("bootcount", "%d (limit %d, upgrade_available %t)", st.BootCount, st.BootLimit, st.Pending)
	if st.Result == "rolled-back" {
		b.warn()
	}
}

func (c *collector) uptime(ctx context.Context, b *builder) error {
	up, err := os.ReadFile(c.proc("uptime"))
	if err != nil {
		return fmt.Errorf("read uptime: %w", err)
	}
	f := strings.Fields(string(up))
	if len(f) == 0 {
		return fmt.Errorf("read uptime: empty %s", c.proc("uptime"))
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return fmt.Errorf("parse uptime %q: %w", f[0], err)
	}
	d := (time.Duration(secs) * time.Second).String()
	b.add("uptime", "%s", d)
	load := ""
	if la, err := os.ReadFile(c.proc("loadavg")); err == nil {
		lf := strings.Fields(string(la))
		if len(lf) >= 3 {
			load = strings.Join(lf[:3], " ")
			b.add("load", "%s", load)
		}
	}
	b.summary = "up " + d + ", load " + load
	return nil
}

func (c *collector) memory(ctx context.Context, b *builder) error {
	mi, err := host.ReadMemory(c.proc("meminfo"))
	if err != nil {
		return err
	}
	total, avail := humanBytes(mi.Total), humanBytes(mi.Available)
	b.add("total", "%s", total)
	b.add("available", "%s", avail)
	b.summary = "available " + avail + " of " + total
	if mi.Total > 0 && mi.Available*10 < mi.Total {
		b.warn()
		b.add("warning", "less than 10%% of memory available")
	}
	if pid, err := readPID(c.opt.PIDFile); err == nil {
		if st, err := host.ReadProcess(c.proc(strconv.Itoa(pid) + "/status")); err == nil {
			b.add("daemon", "pid %d, RSS %s", pid, humanBytes(st.RSS))
			b.summary += ", daemon RSS " + humanBytes(st.RSS)
		} else {
			b.add("daemon", "pid %d from %s not running", pid, c.opt.PIDFile)
		}
	} else {
		b.add("daemon", "not running (%s)", shortErr(err))
	}
	ms := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(ms)
	heap, cycles := uint64(0), uint64(0)
	if ms[0].Value.Kind() == metrics.KindUint64 {
		heap = ms[0].Value.Uint64()
	}
	if ms[1].Value.Kind() == metrics.KindUint64 {
		cycles = ms[1].Value.Uint64()
	}
	limit := debug.SetMemoryLimit(-1)
	lim := "none"
	if limit != int64(^uint64(0)>>1) {
		lim = humanBytes(uint64(limit))
	}
	b.add("this process", "Go heap %s, %d GC cycles, GOMEMLIMIT %s, %s", humanBytes(heap), cycles, lim, runtime.Version())
	return nil
}

func (c *collector) storage(ctx context.Context, b *builder) error {
	p := c.opt.StoragePath
	if p == "" {
		return errors.New("no storage path configured")
	}
	b.add("path", "%s", p)
	d, err := host.StatDisk(p)
	if err != nil {
		return err
	}
	pct := d.UsedPct()
	b.add("size", "%s, used %s (%.0f%%), available %s", humanBytes(d.Total), humanBytes(d.Used), pct, humanBytes(d.Free))
	mnt := mountOf(c.proc("mounts"), p)
	if mnt != nil {
		b.add("mount", "%s on %s type %s (%s)", mnt.dev, mnt.dir, mnt.fstype, mnt.opts)
		if strings.HasPrefix(mnt.opts, "ro") {
			b.warn()
			b.add("warning", "storage is mounted read-only")
		}
		if mnt.fstype == "tmpfs" || mnt.fstype == "rootfs" || mnt.fstype == "squashfs" {
			b.warn()
			b.add("warning", "storage is not on a disk (%s): recordings will not persist", mnt.fstype)
		}
	}
	if pct >= 95 {
		b.warn()
	}
	where := ""
	if mnt != nil {
		where = " on " + mnt.dev + " (" + mnt.fstype + ")"
	}
	b.summary = fmt.Sprintf("%s%s: %s free of %s (%.0f%% used)", p, where, humanBytes(d.Free), humanBytes(d.Total), pct)
	return nil
}

func (c *collector) network(ctx context.Context, b *builder) error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	var brief []string
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		var as []string
		for _, a := range addrs {
			as = append(as, a.String())
		}
		state := "down"
		if ifc.Flags&net.FlagUp != 0 {
			state = "up"
		}
		line := state
		if ifc.HardwareAddr != nil {
			line += " " + ifc.HardwareAddr.String()
		}
		if len(as) > 0 {
			line += " " + strings.Join(as, " ")
		}
		b.add(ifc.Name, "%s", line)
		if ifc.Flags&net.FlagLoopback == 0 && ifc.Flags&net.FlagUp != 0 {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					brief = append(brief, ifc.Name+" "+ipn.String())
				}
			}
		}
	}
	if len(brief) == 0 {
		b.warn()
		b.summary = "no IPv4 address on any interface"
	} else {
		b.summary = strings.Join(brief, ", ")
	}
	return nil
}

func (c *collector) go2rtc(ctx context.Context, b *builder) error {
	if c.opt.Go2RTCAPI == "" {
		b.summary = "not configured"
		return nil
	}
	var info map[string]any
	if err := c.getJSONAuth(ctx, c.opt.Go2RTCAPI+"/api", c.opt.Go2RTCUser, c.opt.Go2RTCPassword, &info); err != nil {
		b.add("api", "%s", c.opt.Go2RTCAPI)
		return fmt.Errorf("go2rtc API: %w", err)
	}
	ver, _ := info["version"].(string)
	b.add("api", "%s", c.opt.Go2RTCAPI)
	b.add("version", "%s", ver)
	var streams map[string]any
	n := "?"
	if err := c.getJSONAuth(ctx, c.opt.Go2RTCAPI+"/api/streams", c.opt.Go2RTCUser, c.opt.Go2RTCPassword, &streams); err == nil {
		n = strconv.Itoa(len(streams))
	}
	b.add("streams", "%s", n)
	b.summary = fmt.Sprintf("up, version %s, %s streams", ver, n)
	return nil
}

// healthReply is the part of the daemon's /api/health the report uses.
type healthReply struct {
	Healthy bool   `json:"healthy"`
	Uptime  int64  `json:"uptime"`
	Status  string `json:"status"`
	Streams []struct {
		Name       string  `json:"name"`
		Status     string  `json:"status"`
		State      string  `json:"state"`
		FPS        float64 `json:"fps"`
		BitrateBPS int64   `json:"bitrate_bps"`
		Reconnects int64   `json:"reconnects"`
		LastError  string  `json:"last_error"`
		Recording  bool    `json:"recording_active"`
	} `json:"streams_detail"`
	// MQTT is in the answer with and without a login (the error only with one).
	MQTT *struct {
		State   string `json:"state"`
		Broker  string `json:"broker"`
		Error   string `json:"error"`
		Outbox  int    `json:"outbox"`
		Dropped uint64 `json:"dropped"`
	} `json:"mqtt"`
}

func (c *collector) daemonHealth(ctx context.Context) (*healthReply, error) {
	c.healthOnce.Do(func() {
		if c.opt.HTTPBase == "" {
			c.healthErr = errors.New("no web address configured")
			return
		}
		var h healthReply
		if err := c.getJSON(ctx, c.opt.HTTPBase+"/api/health", &h); err != nil {
			c.healthErr = err
			return
		}
		c.health = &h
	})
	return c.health, c.healthErr
}

func (c *collector) streams(ctx context.Context, b *builder) error {
	hctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	h, err := c.daemonHealth(hctx)
	wedged := hctx.Err() != nil
	cancel()
	// Without a login, /api/health answers liveness only (no streams_detail):
	// the daemon runs, and the streams come from the database.
	running := err == nil && h.Streams == nil
	if err == nil {
		addMQTT(h, b)
	}
	if err == nil && !running {
		up := 0
		for _, s := range h.Streams {
			state := s.State
			if state == "" {
				state = s.Status
			}
			if s.Status == "up" {
				up++
			} else {
				b.warn()
			}
			line := fmt.Sprintf("%s, %.1f fps, %s/s, %d reconnects", state, s.FPS, humanBits(s.BitrateBPS), s.Reconnects)
			if s.Recording {
				line += ", recording"
			}
			if s.LastError != "" {
				line += ", last error: " + s.LastError
			}
			b.add(s.Name, "%s", line)
		}
		b.summary = fmt.Sprintf("daemon %s, %d streams, %d up", h.Status, len(h.Streams), up)
		return nil
	}
	if wedged {
		// A daemon that accepts but does not answer is wedged, not down.
		return fmt.Errorf("daemon health: %w", context.DeadlineExceeded)
	}
	daemon := "daemon not running"
	if running {
		daemon = "daemon " + h.Status
		b.add("daemon", "%s (per-stream figures need a login; streams from the database)", h.Status)
	} else {
		b.add("daemon", "not running (%s)", shortErr(err))
	}
	d, err := c.openDB(ctx)
	if err != nil {
		b.warn()
		b.summary = daemon + "; " + shortErr(err)
		return nil
	}
	list, err := db.StreamSummaries(ctx, d)
	if err != nil {
		return err
	}
	for _, st := range list {
		en := "enabled"
		if !st.Enabled {
			en = "disabled"
		}
		b.add(st.Name, "%s, %s, %s", daemon, en, st.URL)
	}
	if !running {
		b.warn()
	}
	b.summary = fmt.Sprintf("%s; %d streams configured", daemon, len(list))
	return nil
}

// addMQTT adds the broker connection and the outbox, as the daemon
// reports them, to the streams section; a broker that is away or lost
// messages makes it a warning.
func addMQTT(h *healthReply, b *builder) {
	m := h.MQTT
	if m == nil {
		return
	}
	b.add("mqtt", "%s %s", m.State, m.Broker)
	if m.Error != "" {
		b.add("mqtt error", "%s", m.Error)
	}
	b.add("mqtt outbox", "%d queued, %d dropped", m.Outbox, m.Dropped)
	if m.State == "disconnected" || m.Dropped > 0 {
		b.warn()
	}
}

func (c *collector) recordings(ctx context.Context, b *builder) error {
	d, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	usage, err := db.UsageSince(ctx, d, midnight.Unix())
	if err != nil {
		return fmt.Errorf("count today's recordings: %w", err)
	}
	var n, size int64
	for _, u := range usage {
		n += u.Count
		size += u.Bytes
		b.add(u.StreamName, "%d recordings, %s", u.Count, humanBytes(uint64(u.Bytes)))
	}
	b.summary = fmt.Sprintf("today: %d recordings, %s", n, humanBytes(uint64(size)))
	b.add("today", "%d recordings, %s since %s", n, humanBytes(uint64(size)), midnight.Format(time.DateTime))
	return nil
}

func (c *collector) database(ctx context.Context, b *builder) error {
	b.add("path", "%s", c.opt.DBPath)
	d, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	if st, err := os.Stat(c.opt.DBPath); err == nil {
		b.add("size", "%s", humanBytes(uint64(st.Size())))
	}
	res, err := d.QuickCheck(ctx)
	if err != nil {
		return err
	}
	b.add("quick_check", "%s", res)
	if res != "ok" {
		b.status = StatusError
	}
	if ver, err := d.SchemaVersion(ctx); err == nil {
		b.add("schema", "%s", ver)
	}
	b.summary = "quick_check " + firstLine(res)
	return nil
}

func (c *collector) logs(ctx context.Context, b *builder) error {
	const keep = 10
	// The daemon's ring first (admin-only route: it answers when auth is off or
	// on a box where the caller holds a session; otherwise the file below).
	if c.opt.HTTPBase != "" {
		var lr struct {
			Logs []struct {
				Timestamp string `json:"timestamp"`
				Level     string `json:"level"`
				Message   string `json:"message"`
			} `json:"logs"`
		}
		err := c.getJSON(ctx, c.opt.HTTPBase+"/api/system/logs?level=warning&count="+strconv.Itoa(keep), &lr)
		if err == nil {
			for _, l := range lr.Logs {
				b.add(l.Level, "%s %s", l.Timestamp, l.Message)
			}
			b.summary = fmt.Sprintf("%d recent warnings/errors (daemon log ring)", len(lr.Logs))
			if len(lr.Logs) > 0 {
				b.warn()
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if c.opt.LogFile == "" {
		b.summary = "no log file configured and the daemon's log is not reachable"
		return nil
	}
	lines, err := tailMatching(c.opt.LogFile, 256<<10, keep, isWarnLine)
	if err != nil {
		return fmt.Errorf("read log %s: %w", c.opt.LogFile, err)
	}
	for _, l := range lines {
		b.add("log", "%s", l)
	}
	if len(lines) > 0 {
		b.warn()
	}
	b.summary = fmt.Sprintf("%d recent warnings/errors (%s)", len(lines), c.opt.LogFile)
	return nil
}

func (c *collector) getJSON(ctx context.Context, url string, v any) error {
	return c.getJSONAuth(ctx, url, "", "", v)
}

// getJSONAuth is getJSON with HTTP basic auth when user or pass is set.
func (c *collector) getJSONAuth(ctx context.Context, url, user, pass string, v any) error {
	req, resp := new(fasthttp.Request), new(fasthttp.Response)
	req.SetRequestURI(url)
	if user != "" || pass != "" {
		req.URI().SetUsername(user) // sent as basic auth
		req.URI().SetPassword(pass)
	}
	if err := c.client.Do(ctx, req, resp); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if status := resp.StatusCode(); status != fasthttp.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, status, fasthttp.StatusMessage(status))
	}
	if err := json.Unmarshal(resp.Body(), v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// --- small readers ---

func readPID(path string) (int, error) {
	if path == "" {
		return 0, errors.New("no pid file configured")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s: bad content", path)
	}
	return pid, nil
}

type mount struct{ dev, dir, fstype, opts string }

// mountOf finds the mount holding path: the longest mount point that prefixes it.
func mountOf(mountsFile, path string) *mount {
	data, err := os.ReadFile(mountsFile)
	if err != nil {
		return nil
	}
	if r, err := filepath.EvalSymlinks(path); err == nil {
		path = r
	}
	var best *mount
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		dir := strings.ReplaceAll(f[1], `\040`, " ")
		if dir != "/" && path != dir && !strings.HasPrefix(path, dir+"/") {
			continue
		}
		if best == nil || len(dir) >= len(best.dir) {
			best = &mount{dev: f[0], dir: dir, fstype: f[2], opts: f[3]}
		}
	}
	return best
}

// tailMatching returns the last n lines matching keep from the last max bytes of path.
func tailMatching(path string, max int64, n int, keep func(string) bool) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := int64(0)
	if st.Size() > max {
		off = st.Size() - max
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(buf), "\n") {
		if keep(l) {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

func isWarnLine(l string) bool {
	u := strings.ToUpper(l)
	for _, k := range []string{"level=WARN", "level=ERROR", `"level":"WARN`, `"level":"ERROR`, " WARN ", " ERROR ", "[WARN", "[ERROR"} {
		if strings.Contains(u, strings.ToUpper(k)) {
			return true
		}
	}
	return false
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func humanBits(bps int64) string {
	switch {
	case bps >= 1_000_000:
		return fmt.Sprintf("%.1f Mbit", float64(bps)/1e6)
	case bps >= 1_000:
		return fmt.Sprintf("%.0f kbit", float64(bps)/1e3)
	default:
		return fmt.Sprintf("%d bit", bps)
	}
}

func shortErr(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Op + ": " + op.Err.Error()
	}
	return err.Error()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
