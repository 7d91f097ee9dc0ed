package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

const daemonTestPassword = "daemon-test-password"

// daemonProc is one run of the real daemon with a logged-in API client.
type daemonProc struct {
	*testkit.DaemonProc
	t      *testing.T
	d      *testkit.Daemon
	client *http.Client
}

func start(t *testing.T, d *testkit.Daemon, args ...string) *daemonProc {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &daemonProc{DaemonProc: d.Start(args...), t: t, d: d, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	if code, b := p.call("POST", "/api/auth/login", map[string]string{"username": "admin", "password": d.Password}); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, b)
	}
	return p
}

// startWithCamera starts a camera and the daemon for an end-to-end test.
func startWithCamera(t *testing.T) (*testkit.Camera, *testkit.Daemon, *daemonProc) {
	t.Helper()
	endToEnd(t)
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, daemonTestPassword)
	return cam, d, start(t, d)
}

// endToEnd skips a daemon test in a -short run; it checks recordings with ffprobe.
func endToEnd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	testkit.Need(t, "ffprobe")
}

func (p *daemonProc) call(method, path string, body any) (int, []byte) {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	return p.send(method, path, rd, "application/json")
}

// send is call with a body of any type.
func (p *daemonProc) send(method, path string, rd io.Reader, contentType string) (int, []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.d.Base+path, rd)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type recordingRow struct {
	ID         int64 `json:"id"`
	IsComplete bool  `json:"is_complete"`
	SizeBytes  int64 `json:"size_bytes"`
	Duration   int64 `json:"duration"`
}

func (p *daemonProc) recordings(stream string) []recordingRow {
	t := p.t
	t.Helper()
	code, b := p.call("GET", "/api/recordings?stream="+stream+"&limit=1000", nil)
	if code != http.StatusOK {
		t.Fatalf("list recordings: %d %s", code, b)
	}
	var list struct {
		Recordings []recordingRow `json:"recordings"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatalf("list recordings: %v: %s", err, b)
	}
	return list.Recordings
}

// waitRecording polls until match finds a recording of stream.
func (p *daemonProc) waitRecording(stream string, within time.Duration, match func(recordingRow) bool) recordingRow {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, r := range p.recordings(stream) {
			if match(r) {
				return r
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	p.t.Fatalf("no matching recording of %s within %s", stream, within)
	return recordingRow{}
}

// probeDownload downloads a recording through the API and returns ffprobe's duration.
func (p *daemonProc) probeDownload(id, wantSize int64) float64 {
	t := p.t
	t.Helper()
	code, mp4 := p.call("GET", fmt.Sprintf("/api/recordings/download/%d", id), nil)
	if code != http.StatusOK || int64(len(mp4)) != wantSize {
		t.Fatalf("download %d: %d, %d bytes, want %d", id, code, len(mp4), wantSize)
	}
	file := filepath.Join(t.TempDir(), "download.mp4")
	if err := os.WriteFile(file, mp4, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "default=nw=1", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_name=h264") || strings.Contains(string(out), "rror") {
		t.Fatalf("ffprobe of recording %d: %v\n%s", id, err, out)
	}
	var dur float64
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "duration="); ok {
			fmt.Sscanf(v, "%g", &dur)
		}
	}
	return dur
}

// TestDaemonRecordsStream runs the real daemon the way a user does: built binary,
// managed go2rtc, a camera (another go2rtc serving an ffmpeg test pattern), the
// REST API with a real login. The stream added over the API is recorded and the
// recording downloaded over the API plays in ffprobe. Then the daemon is killed
// with SIGKILL mid-segment: after a restart that segment is complete and plays.
// Finally a SIGTERM stops lightnvr and its go2rtc cleanly.
func TestDaemonRecordsStream(t *testing.T) {
	cam, d, p := startWithCamera(t)

	anon := &http.Client{Timeout: 5 * time.Second}
	if resp, err := anon.Get(d.Base + "/api/streams"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("streams without login: %v %v, want 401", resp, err)
	}
	stream := map[string]any{"name": "cam1", "url": cam.URL(), "enabled": true, "streaming_enabled": true,
		"record": true, "segment_duration": 5, "record_audio": false}
	if code, b := p.call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}
	done := p.waitRecording("cam1", 60*time.Second, func(r recordingRow) bool { return r.IsComplete && r.SizeBytes > 0 })
	code, health := p.call("GET", "/api/health", nil)
	var h struct {
		Streams struct {
			Up int `json:"up"`
		} `json:"streams"`
		Detail []struct {
			Name            string  `json:"name"`
			Status          string  `json:"status"`
			FPS             float64 `json:"fps"`
			BitrateBPS      int64   `json:"bitrate_bps"`
			RecordingActive bool    `json:"recording_active"`
		} `json:"streams_detail"`
	}
	if err := json.Unmarshal(health, &h); err != nil || code != http.StatusOK || len(h.Detail) != 1 {
		t.Fatalf("health: %d %s", code, health)
	}
	// The camera sends 10 fps; ingest figures come from the running pipeline.
	if d := h.Detail[0]; d.Name != "cam1" || d.Status != "up" || d.FPS < 5 || d.FPS > 15 || d.BitrateBPS <= 0 || !d.RecordingActive {
		t.Fatalf("health of cam1: %+v (%s)", d, health)
	}
	if d := p.probeDownload(done.ID, done.SizeBytes); d < 4 {
		t.Fatalf("first segment plays %.2f s, want ≥ 4 s (segment_duration 5)", d)
	}
	p.checkGo2RTCLocked()
	// The recorders report their writes to the storage controller: between
	// heartbeats that is all that keeps a fast-filling disk above its floor.
	if code, m := p.call("GET", "/api/metrics", nil); code != http.StatusOK ||
		!regexp.MustCompile(`(?m)^lightnvr_storage_reported_bytes_total [1-9]`).Match(m) {
		t.Fatalf("metrics show no bytes reported to the storage controller: %d\n%s", code, m)
	}

	// Power-cut stand-in: SIGKILL while a segment is open and has a few parts.
	open := p.waitRecording("cam1", 30*time.Second, func(r recordingRow) bool { return !r.IsComplete })
	time.Sleep(2500 * time.Millisecond)
	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait(t, 10*time.Second)

	p = start(t, d)
	code, b := p.call("GET", fmt.Sprintf("/api/recordings/%d", open.ID), nil)
	if code != http.StatusOK {
		t.Fatalf("recording %d after the crash: %d %s", open.ID, code, b)
	}
	var repaired recordingRow
	if err := json.Unmarshal(b, &repaired); err != nil {
		t.Fatal(err)
	}
	if !repaired.IsComplete || repaired.SizeBytes == 0 {
		t.Fatalf("recording cut by SIGKILL not repaired: %s", b)
	}
	if d := p.probeDownload(repaired.ID, repaired.SizeBytes); d < 1 {
		t.Fatalf("repaired recording plays %.2f s, want ≥ 1 s", d)
	}
	// Recording resumes after the restart.
	p.waitRecording("cam1", 60*time.Second, func(r recordingRow) bool { return r.ID > open.ID && r.IsComplete })

	// Restart over the API: the same process (a supervisor's pid) comes back
	// with a fresh start and keeps the session.
	if code, b := p.call("POST", "/api/system/restart", nil); code/100 != 2 {
		t.Fatalf("restart: %d %s", code, b)
	}
	back := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		resp, err := anon.Get(d.Base + "/api/health")
		if err != nil {
			continue
		}
		var h struct {
			Uptime int64 `json:"uptime"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if strings.Contains(p.Log.String(), "restarting") && h.Uptime <= 2 {
			back = true
			break
		}
	}
	if !back {
		t.Fatal("lightnvr did not come back after POST /api/system/restart")
	}
	if p.Exited() {
		t.Fatal("the restart ended the process instead of replacing it")
	}
	if code, b := p.call("GET", "/api/streams/cam1", nil); code != http.StatusOK {
		t.Fatalf("session after restart: %d %s", code, b)
	}

	// A clean stop: exit 0, go2rtc gone with it.
	stopDaemon(t, p.DaemonProc)
	if err := testkit.WaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/go2rtc/api", d.APIPort), time.Second); err == nil {
		t.Fatal("go2rtc still answers after lightnvr stopped")
	}
}

// checkGo2RTCLocked plays a local attacker against the daemon's go2rtc: its API
// on loopback refuses requests without the generated credentials (the recording
// above proved lightnvr's own clients have them), the browser's path through
// the proxy still works, and the password shows up in no log, API answer or
// diag report.
func (p *daemonProc) checkGo2RTCLocked() {
	t := p.t
	t.Helper()
	api := fmt.Sprintf("http://127.0.0.1:%d/go2rtc", p.d.APIPort)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/streams"},
		{"PUT", "/api/streams?name=evil&src=" + url.QueryEscape("exec:touch /tmp/pwned")},
	} {
		req, _ := http.NewRequest(c.method, api+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s %s on go2rtc without credentials: %d, want 401", c.method, c.path, resp.StatusCode)
		}
	}
	if code, b := p.call("GET", "/go2rtc/api/streams", nil); code != http.StatusOK || !strings.Contains(string(b), "cam1") {
		t.Fatalf("go2rtc proxy: %d %s", code, b)
	}
	creds, err := go2rtc.LoadCredentials(filepath.Join(p.d.Dir, "go2rtc"))
	if err != nil || creds.IsZero() {
		t.Fatalf("go2rtc credentials file: %v", err)
	}
	diagOut, err := exec.Command(p.d.Bin, "-c", p.d.INI, "diag", "--json").Output()
	if err != nil {
		t.Fatalf("lightnvr diag: %v\n%s", err, diagOut)
	}
	var report struct {
		Sections []struct{ Name, Summary, Error string }
	}
	if err := json.Unmarshal(diagOut, &report); err != nil {
		t.Fatalf("diag --json: %v\n%s", err, diagOut)
	}
	for _, sec := range report.Sections {
		if sec.Name == "go2rtc" && (sec.Error != "" || !strings.HasPrefix(sec.Summary, "up")) {
			t.Errorf("diag did not reach go2rtc with the credentials: %+v", sec)
		}
	}
	seen := map[string]string{"daemon log": p.Log.String(), "diag": string(diagOut)}
	for _, path := range []string{"/api/settings", "/api/system/info", "/api/streams", "/api/streams/cam1", "/api/health", "/go2rtc/api/streams"} {
		_, b := p.call("GET", path, nil)
		seen[path] = string(b)
	}
	for where, text := range seen {
		if strings.Contains(text, creds.Password) {
			t.Errorf("go2rtc's password appears in %s", where)
		}
	}
}

// The real daemon feeds [watchdog] device (a plain file here) and disarms it
// with the magic V when it stops cleanly.
func TestDaemonFeedsWatchdog(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon test")
	}
	dev := t.TempDir() + "/watchdog"
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testkit.NewDaemon(t, daemonTestPassword)
	d.Set("watchdog", "device", dev)
	d.Set("watchdog", "timeout", "3")
	p := d.Start()
	read := func() []byte {
		b, err := os.ReadFile(dev)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	testkit.WaitFor(t, 30*time.Second, "two pings", func() bool { return len(read()) >= 2 })
	if err := p.Cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(t, 30*time.Second); err != nil {
		t.Fatalf("daemon exit: %v\n%s", err, p.Log)
	}
	if b := read(); b[len(b)-1] != 'V' {
		t.Fatalf("device got %q, want it to end with the magic V", b)
	}
}
