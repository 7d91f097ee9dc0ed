package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"lightnvr/pkg/config"
	"lightnvr/pkg/testkit"
)

// systemInfoShape is the part of /api/system/info LightNVR's UI reads,
// typed: a field of another type fails the decoding.
type systemInfoShape struct {
	CPU struct {
		Usage *float64 `json:"usage"`
	} `json:"cpu"`
	Go2RTCMemory   *memInfo `json:"go2rtcMemory"`
	DetectorMemory *memInfo `json:"detectorMemory"`
	Versions       struct {
		Items []versionItem `json:"items"`
	} `json:"versions"`
}

// /api/system/info lists LightNVR's versions table with its names and
// categories, the go2rtc process's memory, and CPU use in percent.
func TestSystemInfoVersionsAndMemory(t *testing.T) {
	d := testkit.OpenDB(t, "")
	sup, _ := startStreamStack(t, d)
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	srv, err := New(Deps{Config: cfg, DB: d, Logger: quietLog, Auth: streamTestAuth{}, Go2RTCStatus: sup.Status})
	if err != nil {
		t.Fatal(err)
	}
	code, body := call(srv, "admin", "GET", "/api/system/info", "")
	var r systemInfoShape
	if code != 200 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("system info: %d %s", code, body)
	}
	byName := map[string]versionItem{}
	for _, it := range r.Versions.Items {
		byName[it.Name] = it
	}
	semver := regexp.MustCompile(`^\d+\.\d+\.\d+`)
	for name, want := range map[string]string{"LightNVR": "Application", "Base OS": "OS", "go2rtc": "Streaming", "SQLite": "Database"} {
		it, ok := byName[name]
		if !ok || it.Category != want || it.Version == "" || it.Version == "unknown" {
			t.Errorf("versions item %q: %+v (present %v), want category %q and a version", name, it, ok, want)
		}
	}
	if v := byName["SQLite"].Version; !semver.MatchString(v) {
		t.Errorf("SQLite version %q", v)
	}
	if v := byName["go2rtc"].Version; !semver.MatchString(v) {
		t.Errorf("go2rtc version %q", v)
	}
	if r.CPU.Usage == nil || *r.CPU.Usage < 0 || *r.CPU.Usage > 100 {
		t.Errorf("cpu.usage %v, want a percentage", r.CPU.Usage)
	}
	// go2rtc's resident memory, read from its own process.
	if m := r.Go2RTCMemory; m == nil || m.Total == 0 || m.Used < 1<<20 || m.Used > m.Total {
		t.Errorf("go2rtcMemory %+v, want go2rtc's RSS", m)
	}
	if m := r.DetectorMemory; m == nil || m.Total == 0 {
		t.Errorf("detectorMemory %+v", m)
	}
}

// CPU usage is the busy share between two readings of the kernel's
// counters, not a constant: two stat files with 300 of 400 ticks busy
// between them read as 75 %.
func TestCPUSamplerDeltas(t *testing.T) {
	dir := t.TempDir()
	stat, self := filepath.Join(dir, "stat"), filepath.Join(dir, "self")
	write := func(p, body string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(stat, "cpu  1000 0 500 8000 500 0 0 0 0 0\n")
	write(self, "7 (lightnvr) S 1 7 7 0 -1 0 0 0 0 0 10 10 0 0 20 0 9 0 1 1 1\n")
	c := &cpuSampler{statPath: stat, selfPath: self}
	if _, err := c.read(); err != nil { // the baseline
		t.Fatal(err)
	}
	write(stat, "cpu  1200 50 550 8090 510 0 0 0 0 0\n")
	write(self, "7 (lightnvr) S 1 7 7 0 -1 0 0 0 0 0 50 30 0 0 20 0 9 0 1 1 1\n")
	u, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	if u.machine != 75 || u.process != 15 {
		t.Errorf("usage %+v, want machine 75 and process 15 (60 of 400 ticks)", u)
	}
	write(stat, "garbage\n")
	if _, err := c.read(); err == nil {
		t.Error("a broken stat file gave figures")
	}
}
