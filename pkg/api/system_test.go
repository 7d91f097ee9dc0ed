package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/testkit"
	"lightnvr/pkg/version"
)

type sysEnv struct {
	srv      *Server
	db       *db.DB
	cfg      *config.Config
	log      *slog.Logger
	ring     *logx.Ring
	restarts atomic.Int32
	stops    atomic.Int32
}

func newSysEnv(t *testing.T, wire bool) *sysEnv {
	t.Helper()
	d := testkit.OpenDB(t, "")
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	logger, ring, err := logx.New(logx.Options{Level: slog.LevelDebug, Output: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	e := &sysEnv{db: d, cfg: cfg, log: logger, ring: ring}
	deps := Deps{Config: cfg, DB: d, Logger: logger, Auth: streamTestAuth{}}
	if wire {
		deps.Logs = ring
		deps.Restart = func() { e.restarts.Add(1) }
		deps.Shutdown = func() { e.stops.Add(1) }
	}
	e.srv, err = New(deps)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *sysEnv) json(t *testing.T, role, method, uri, body string, want int) map[string]any {
	t.Helper()
	code, b := call(e.srv, role, method, uri, body)
	if code != want {
		t.Fatalf("%s %s as %q: %d, want %d: %s", method, uri, role, code, want, b)
	}
	return decodeObj(t, b)
}

type logsBody struct {
	Logs []struct {
		Seq       uint64            `json:"seq"`
		Timestamp string            `json:"timestamp"`
		Level     string            `json:"level"`
		Message   string            `json:"message"`
		Attrs     map[string]string `json:"attrs"`
	} `json:"logs"`
	LastSeq uint64 `json:"last_seq"`
}

func (e *sysEnv) logs(t *testing.T, query string) logsBody {
	t.Helper()
	code, b := call(e.srv, "admin", "GET", "/api/system/logs"+query, "")
	if code != 200 {
		t.Fatalf("logs%s: %d %s", query, code, b)
	}
	var r logsBody
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func messages(r logsBody) string {
	var m []string
	for _, l := range r.Logs {
		m = append(m, l.Message)
	}
	return strings.Join(m, ",")
}

func TestSystemLogs(t *testing.T) {
	e := newSysEnv(t, true)
	e.log.Debug("d1")
	e.log.Info("i1", "stream", "front")
	e.log.Warn("w1")
	e.log.Error("e1", "err", "boom")

	all := e.logs(t, "")
	if got := messages(all); got != "d1,i1,w1,e1" {
		t.Fatalf("all logs = %s", got)
	}
	if all.LastSeq != all.Logs[3].Seq || all.Logs[1].Attrs["stream"] != "front" || all.Logs[2].Level != "warning" || all.Logs[3].Level != "error" {
		t.Errorf("entries: %+v last_seq %d", all.Logs, all.LastSeq)
	}
	if all.Logs[0].Timestamp == "" {
		t.Error("no timestamp")
	}
	if got := messages(e.logs(t, "?level=warning")); got != "w1,e1" {
		t.Errorf("level=warning: %s", got)
	}
	if got := messages(e.logs(t, "?level=error&limit=5")); got != "e1" {
		t.Errorf("level=error: %s", got)
	}
	if got := messages(e.logs(t, "?limit=2")); got != "w1,e1" {
		t.Errorf("limit=2 keeps the newest: %s", got)
	}
	if got := messages(e.logs(t, "?count=1")); got != "e1" {
		t.Errorf("count=1 (LightNVR's name): %s", got)
	}

	// Follow the log with the cursor.
	cursor := all.LastSeq
	if r := e.logs(t, fmt.Sprintf("?since=%d", cursor)); len(r.Logs) != 0 || r.LastSeq != cursor {
		t.Errorf("nothing new: %+v", r)
	}
	e.log.Info("i2")
	e.log.Debug("d2")
	e.log.Info("i3")
	r := e.logs(t, fmt.Sprintf("?since=%d&level=info&limit=1", cursor))
	if messages(r) != "i2" {
		t.Fatalf("since+limit gives the oldest first: %s", messages(r))
	}
	r = e.logs(t, fmt.Sprintf("?since=%d&level=info", r.LastSeq))
	if messages(r) != "i3" {
		t.Fatalf("continuing from last_seq: %s", messages(r))
	}
	// The legacy timestamp cursor (millisecond precision) returns exactly
	// the lines stamped after it.
	full := e.logs(t, "")
	ts := all.Logs[3].Timestamp
	cut, err := time.Parse(logTimeLayout, ts)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, l := range full.Logs {
		if lt, _ := time.Parse(logTimeLayout, l.Timestamp); lt.After(cut) {
			want = append(want, l.Message)
		}
	}
	if got := messages(e.logs(t, "?last_ts="+url.QueryEscape(ts))); got != strings.Join(want, ",") || strings.Contains(got, "e1") {
		t.Errorf("last_ts: %s, want %v", got, want)
	}

	for _, q := range []string{"?level=loud", "?limit=0", "?limit=x", "?since=-1", "?last_ts=yesterday"} {
		if code, b := call(e.srv, "admin", "GET", "/api/system/logs"+q, ""); code != 400 {
			t.Errorf("%s: %d %s", q, code, b)
		}
	}
	if code, _ := call(e.srv, "viewer", "GET", "/api/system/logs", ""); code != 403 {
		t.Errorf("viewer: %d", code)
	}

	if r := e.json(t, "admin", "POST", "/api/system/logs/clear", "", 200); r["success"] != true {
		t.Errorf("clear: %v", r)
	}
	after := e.logs(t, fmt.Sprintf("?since=%d", r.LastSeq))
	// Only the line logged by the clear itself remains.
	if messages(after) != "log cleared" {
		t.Errorf("after clear: %s", messages(after))
	}
	// A cursor from a previous process (ahead of this log) restarts from the beginning.
	if got := messages(e.logs(t, "?since=999999")); got != "log cleared" {
		t.Errorf("stale cursor: %s", got)
	}
}

func TestSystemLogsRingFromLogger(t *testing.T) {
	e := newSysEnv(t, false) // Deps.Logs unset: the logger's own ring serves
	e.log.Warn("from the logger")
	if got := messages(e.logs(t, "?level=warning")); got != "from the logger" {
		t.Errorf("logs = %q", got)
	}
}

func TestSystemInfo(t *testing.T) {
	e := newSysEnv(t, true)
	if _, err := testkit.SQL(t, e.db.Path()).Exec(`INSERT INTO streams (name, url) VALUES ('front', 'rtsp://cam/1')`); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/system/info", "/api/system"} {
		r := e.json(t, "admin", "GET", path, "", 200)
		if r["version"] != version.Version || r["go_version"] != runtime.Version() {
			t.Errorf("%s: version %v go %v", path, r["version"], r["go_version"])
		}
		if up, ok := r["uptime"].(float64); !ok || up < 0 {
			t.Errorf("uptime %v", r["uptime"])
		}
		cpu := r["cpu"].(map[string]any)
		if cpu["cores"] != float64(runtime.NumCPU()) {
			t.Errorf("cores %v", cpu["cores"])
		}
		disk := r["disk"].(map[string]any)
		total, used, free := disk["total"].(float64), disk["used"].(float64), disk["free"].(float64)
		// As df shows them: the blocks ext4 keeps for root are neither used
		// nor free for lightnvr, so used+free may fall short of total.
		if total <= 0 || used+free > total || used <= 0 || disk["path"] != e.cfg.Storage.Path {
			t.Errorf("disk %v", disk)
		}
		streams := r["streams"].(map[string]any)
		if streams["total"] != float64(1) {
			t.Errorf("streams %v", streams)
		}
		if rec := r["recordings"].(map[string]any); rec["count"] != float64(0) {
			t.Errorf("recordings %v", rec)
		}
		if runtime.GOOS == "linux" {
			mem := r["memory"].(map[string]any)
			sys := r["systemMemory"].(map[string]any)
			proc := r["process"].(map[string]any)
			rss := proc["rss_bytes"].(float64)
			if mt := mem["total"].(float64); mt <= 0 || rss <= 0 || rss > mt || mem["used"] != rss {
				t.Errorf("memory %v process %v", mem, proc)
			}
			if sys["used"].(float64)+sys["free"].(float64) != sys["total"].(float64) {
				t.Errorf("systemMemory %v", sys)
			}
			if proc["go_heap_bytes"].(float64) <= 0 || proc["goroutines"].(float64) < 1 || r["threads"].(float64) < 1 {
				t.Errorf("process %v threads %v", proc, r["threads"])
			}
			if _, bad := r["errors"]; bad {
				t.Errorf("errors: %v", r["errors"])
			}
		}
	}
	if code, _ := call(e.srv, "viewer", "GET", "/api/system/info", ""); code != 403 {
		t.Errorf("viewer info: %d", code)
	}
	if r := e.json(t, "viewer", "GET", "/api/system/status", "", 200); r["status"] != "ok" {
		t.Errorf("status %v", r)
	}
	if code, _ := call(e.srv, "", "GET", "/api/system/status", ""); code != 401 {
		t.Errorf("anonymous status: %d", code)
	}
}

func TestSystemRestartShutdown(t *testing.T) {
	e := newSysEnv(t, true)
	if code, _ := call(e.srv, "viewer", "POST", "/api/system/restart", ""); code != 403 || e.restarts.Load() != 0 {
		t.Fatalf("viewer restart: %d (restarts %d)", code, e.restarts.Load())
	}
	if r := e.json(t, "admin", "POST", "/api/system/restart", "", 200); r["success"] != true || e.restarts.Load() != 1 {
		t.Errorf("restart: %v, called %d", r, e.restarts.Load())
	}
	if r := e.json(t, "admin", "POST", "/api/system/shutdown", "", 200); r["success"] != true || e.stops.Load() != 1 || e.restarts.Load() != 1 {
		t.Errorf("shutdown: %v, called %d", r, e.stops.Load())
	}
	bare := newSysEnv(t, false)
	for _, p := range []string{"/api/system/restart", "/api/system/shutdown"} {
		if code, _ := call(bare.srv, "admin", "POST", p, ""); code != 503 {
			t.Errorf("%s unwired: %d, want 503", p, code)
		}
	}
}

func TestSetupStatus(t *testing.T) {
	e := newSysEnv(t, true)
	if r := e.json(t, "", "GET", "/api/setup/status", "", 200); r["complete"] != false || r["setup_completed_at"] != float64(0) {
		t.Fatalf("fresh: %v", r)
	}
	if code, _ := call(e.srv, "viewer", "POST", "/api/setup/status", ""); code != 403 {
		t.Errorf("viewer POST: %d", code)
	}
	if code, _ := call(e.srv, "", "POST", "/api/setup/status", ""); code != 401 {
		t.Errorf("anonymous POST: %d", code)
	}
	e.json(t, "admin", "POST", "/api/setup/status", "", 200)
	r := e.json(t, "", "GET", "/api/setup/status", "", 200)
	at, _ := r["setup_completed_at"].(float64)
	if r["complete"] != true || at <= 0 {
		t.Fatalf("after completing: %v", r)
	}
	var raw string
	if err := testkit.SQL(t, e.db.Path()).QueryRow(`SELECT value FROM system_settings WHERE key = 'setup_complete'`).Scan(&raw); err != nil || raw != "1" {
		t.Errorf("stored setup_complete %q %v", raw, err)
	}
	e.json(t, "admin", "POST", "/api/setup/status", `{"complete": true}`, 200)
	if r := e.json(t, "", "GET", "/api/setup/status", "", 200); r["setup_completed_at"] != at {
		t.Errorf("completing again moved the time: %v → %v", at, r["setup_completed_at"])
	}
	e.json(t, "admin", "POST", "/api/setup/status", `{"complete": false}`, 200)
	if r := e.json(t, "", "GET", "/api/setup/status", "", 200); r["complete"] != false || r["setup_completed_at"] != float64(0) {
		t.Errorf("after reset: %v", r)
	}
	for _, body := range []string{`{"complete": "yes"}`, `{"done": true}`, `{`} {
		if code, b := call(e.srv, "admin", "POST", "/api/setup/status", body); code != 400 {
			t.Errorf("%s: %d %s", body, code, b)
		}
	}
}

func TestMetrics(t *testing.T) {
	e := newSysEnv(t, true)
	if _, err := testkit.SQL(t, e.db.Path()).Exec(`INSERT INTO streams (name, url) VALUES ('front', 'rtsp://cam/1'), ('back', 'rtsp://cam/2')`); err != nil {
		t.Fatal(err)
	}
	code, body := call(e.srv, "viewer", "GET", "/api/metrics", "")
	if code != 200 {
		t.Fatalf("metrics: %d %s", code, body)
	}
	fams, err := parseProm(string(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	samples := map[string]string{}
	for name, f := range fams {
		if len(f.samples) > 0 {
			samples[name] = strconv.FormatFloat(f.samples[len(f.samples)-1].value, 'g', -1, 64)
		}
	}
	if samples["lightnvr_instance_streams_configured"] != "2" {
		t.Errorf("streams_configured = %q", samples["lightnvr_instance_streams_configured"])
	}
	for _, name := range []string{"lightnvr_storage_used_bytes", "lightnvr_storage_available_bytes", "lightnvr_build_info"} {
		if _, ok := samples[name]; !ok {
			t.Errorf("missing %s", name)
		}
	}
	if runtime.GOOS == "linux" {
		if v := samples["lightnvr_instance_memory_rss_bytes"]; v == "" || v == "0" {
			t.Errorf("rss = %q", v)
		}
	}
	if code, _ := call(e.srv, "", "GET", "/api/metrics", ""); code != 401 {
		t.Errorf("anonymous metrics: %d", code)
	}
}

func TestPromLabelEscaping(t *testing.T) {
	var w promWriter
	w.gauge("x_up", "help", 1, "stream", "a\"b\\c\nd")
	want := "# HELP x_up help\n# TYPE x_up gauge\nx_up{stream=\"a\\\"b\\\\c\\nd\"} 1\n"
	if w.b.String() != want {
		t.Errorf("got %q, want %q", w.b.String(), want)
	}
	fams, err := parseProm(w.b.String())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := fams["x_up"].sample("stream", "a\"b\\c\nd"); !ok || v != 1 {
		t.Errorf("escaped label value does not read back: %+v", fams["x_up"])
	}
}
