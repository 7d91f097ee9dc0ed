package diag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/logx"
	"lightnvr/pkg/ota"
	"lightnvr/pkg/testkit"
)

// fixture is a box whose daemon is not running: a real migrated database with
// one stream and one of today's recordings, a storage directory and a log file.
type fixture struct {
	opt Options
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	dbPath := filepath.Join(dir, "lightnvr.db")
	d, err := db.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw := testkit.SQL(t, dbPath)
	if _, err := raw.ExecContext(ctx, `INSERT INTO streams (name, url, enabled) VALUES ('porch', 'rtsp://admin:hunter2@10.1.1.5/live', 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO recordings (stream_name, file_path, start_time, size_bytes, is_complete) VALUES ('porch', '/x.mp4', ?, 2048, 1), ('porch', '/old.mp4', 1000, 4096, 1)`, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(raw.Close(), d.Close()); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "lightnvr.log")
	log := "time=2026-01-01T00:00:00Z level=INFO msg=started\n" +
		"time=2026-01-01T00:00:01Z level=WARN msg=\"stream failed\" url=rtsp://admin:hunter2@10.1.1.5/live\n" +
		"time=2026-01-01T00:00:02Z level=ERROR msg=\"mqtt login\" password=hunter2\n"
	if err := os.WriteFile(logFile, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(dir, "recordings")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	return fixture{opt: Options{
		ConfigPath:  filepath.Join(dir, "lightnvr.ini"),
		DBPath:      dbPath,
		StoragePath: storage,
		PIDFile:     filepath.Join(dir, "lightnvr.pid"), // absent: daemon not running
		LogFile:     logFile,
		HTTPBase:    "http://" + closedAddr(t),
		Go2RTCAPI:   "http://" + closedAddr(t),
		Timeout:     2 * time.Second,
		ReleaseFile: filepath.Join(dir, "no-release"),
	}}
}

// closedAddr is a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestCollectDaemonDown(t *testing.T) {
	f := newFixture(t)
	rep := Collect(context.Background(), f.opt)

	if got, want := len(rep.Sections), len(SectionNames()); got != want {
		t.Fatalf("%d sections, want %d", got, want)
	}
	for i, name := range SectionNames() {
		if rep.Sections[i].Name != name {
			t.Errorf("section %d is %q, want %q", i, rep.Sections[i].Name, name)
		}
	}
	streams := rep.Section("streams")
	if !strings.Contains(streams.Summary, "daemon not running") || !strings.Contains(streams.Summary, "1 streams") {
		t.Errorf("streams summary = %q", streams.Summary)
	}
	if v := item(streams, "porch"); !strings.Contains(v, "daemon not running") || strings.Contains(v, "hunter2") || !strings.Contains(v, "10.1.1.5") {
		t.Errorf("streams porch = %q, want state and a redacted URL", v)
	}
	rec := rep.Section("recordings")
	if rec.Status != StatusOK || !strings.Contains(rec.Summary, "today: 1 recordings, 2.0 KiB") {
		t.Errorf("recordings = %+v", rec)
	}
	dbs := rep.Section("database")
	if dbs.Status != StatusOK || item(dbs, "quick_check") != "ok" || item(dbs, "schema") == "" {
		t.Errorf("database = %+v", dbs)
	}
	st := rep.Section("storage")
	if st.Status == StatusError || item(st, "path") != f.opt.StoragePath || item(st, "size") == "" {
		t.Errorf("storage = %+v", st)
	}
	mem := rep.Section("memory")
	if mem.Status == StatusError || !strings.Contains(item(mem, "daemon"), "not running") || !strings.Contains(item(mem, "this process"), "Go heap") {
		t.Errorf("memory = %+v", mem)
	}
	if g := rep.Section("go2rtc"); g.Status != StatusError || !strings.Contains(g.Error, "go2rtc API") {
		t.Errorf("go2rtc with nothing listening = %+v", g)
	}
	logs := rep.Section("logs")
	if len(logs.Items) != 2 {
		t.Fatalf("logs kept %d lines, want the 2 warnings/errors: %+v", len(logs.Items), logs.Items)
	}
	for _, it := range logs.Items {
		if strings.Contains(it.Value, "hunter2") {
			t.Errorf("log line not redacted: %q", it.Value)
		}
	}
	if up := rep.Section("uptime"); up.Status != StatusOK || item(up, "load") == "" {
		t.Errorf("uptime = %+v", up)
	}
}

// A daemon that accepts connections but never answers must cost one section
// timeout, reported as such, not a hung report.
func TestSectionTimeout(t *testing.T) {
	f := newFixture(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	})
	f.opt.HTTPBase = "http://" + l.Addr().String()
	f.opt.Go2RTCAPI = "http://" + l.Addr().String()
	f.opt.Timeout = 300 * time.Millisecond
	f.opt.DBTimeout = 10 * time.Second

	rep := Collect(context.Background(), f.opt)
	for _, name := range []string{"go2rtc", "streams", "logs"} {
		s := rep.Section(name)
		if s.Status != StatusTimeout {
			t.Errorf("%s: status %q (%s), want %q", name, s.Status, s.Error, StatusTimeout)
		}
		if !strings.HasPrefix(s.Summary, "timeout") {
			t.Errorf("%s: summary %q should say timeout", name, s.Summary)
		}
	}
	if s := rep.Section("database"); s.Status != StatusOK {
		t.Errorf("database should not be affected by the wedged daemon: %+v", s)
	}
}

func TestRunFormats(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()

	var js bytes.Buffer
	opt := f.opt
	opt.JSON = true
	if err := Run(ctx, opt, &js); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Generated time.Time `json:"generated"`
		Sections  []struct {
			Name    string `json:"name"`
			Status  string `json:"status"`
			Summary string `json:"summary"`
			Items   []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"items"`
		} `json:"sections"`
	}
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, js.String())
	}
	if rep.Generated.IsZero() || len(rep.Sections) != len(SectionNames()) {
		t.Fatalf("JSON report: %s", js.String())
	}
	for i, s := range rep.Sections {
		if s.Name != SectionNames()[i] || s.Status == "" || s.Summary == "" {
			t.Errorf("JSON section %d: %+v", i, s)
		}
	}
	if strings.Contains(js.String(), "hunter2") {
		t.Error("JSON report leaks a password")
	}

	var brief bytes.Buffer
	opt = f.opt
	opt.Brief = true
	if err := Run(ctx, opt, &brief); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(brief.String(), "\n"), "\n")
	if len(lines) != len(SectionNames()) {
		t.Fatalf("--brief printed %d lines, want one per section:\n%s", len(lines), brief.String())
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, SectionNames()[i]) || !strings.Contains(l, ": ") {
			t.Errorf("brief line %d = %q", i, l)
		}
	}

	var text bytes.Buffer
	if err := Run(ctx, f.opt, &text); err != nil {
		t.Fatal(err)
	}
	for _, name := range SectionNames() {
		if !strings.Contains(text.String(), "== "+name+" ==") {
			t.Errorf("text report has no %q header:\n%s", name, text.String())
		}
	}
	if !regexp.MustCompile(`quick_check:\s+ok`).MatchString(text.String()) {
		t.Errorf("text report lacks the quick_check verdict:\n%s", text.String())
	}
	if strings.Contains(text.String(), "hunter2") {
		t.Error("text report leaks a password")
	}
}

func TestRedactText(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://admin:hunter2@cam/live":   "rtsp://admin:***@cam/live",
		"login password=hunter2 ok":       "login password=*** ok",
		"http://x/api?token=abc&page=2":   "http://x/api?token=***&page=2",
		"nothing secret here, rtsp://cam": "nothing secret here, rtsp://cam",
	} {
		if got := logx.RedactURL(in); got != want {
			t.Errorf("logx.RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func item(s *Section, key string) string {
	for _, it := range s.Items {
		if it.Key == key {
			return it.Value
		}
	}
	return ""
}

// TestVersionShowsSlots: with [ota] configured, the version section shows
// both slots' versions and the boot counter, and warns after a rollback.
func TestVersionShowsSlots(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env")
	cfgFile := filepath.Join(dir, "fw_env.config")
	if err := os.WriteFile(env, make([]byte, 0x1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, []byte(env+" 0 0x1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sys, err := ota.FromConfig(config.OTAConfig{EnvConfig: cfgFile, Board: "x", SlotA: "rootfs=/dev/null", SlotB: "rootfs=/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	sys.CmdlineFile = filepath.Join(dir, "no-cmdline")
	// Slot b was installed and U-Boot fell back to a after bootlimit.
	if err := sys.Env.Create("bootslot=a", "upgrade_available=0", "bootcount=0", "bootlimit=3",
		"ota_version_a=1.0.0", "ota_version_b=1.1.0", "ota_target=b"); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	f.opt.OTA = sys
	sec := Collect(context.Background(), f.opt).Section("version")
	var lines []string
	for _, it := range sec.Items {
		lines = append(lines, it.Key+": "+it.Value)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"slots: running a; a=1.0.0 b=1.1.0; next boot a; last update 1.1.0 rolled-back", "bootcount: 0 (limit 3, upgrade_available false)"} {
		if !strings.Contains(all, want) {
			t.Errorf("version section lacks %q:\n%s", want, all)
		}
	}
	if sec.Status != StatusWarn {
		t.Errorf("status %q after a rollback, want warn", sec.Status)
	}
}
