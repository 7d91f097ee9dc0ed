package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

const daemonTestPassword = "daemon-test-password"

// daemonEnv is one data directory and configuration, started as often as a test needs.
type daemonEnv struct {
	t       *testing.T
	dir     string
	bin     string
	ini     string
	base    string
	apiPort int
	ffprobe string
}

func newDaemonEnv(t *testing.T) *daemonEnv {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	e := &daemonEnv{t: t, dir: t.TempDir(), ffprobe: testkit.Need(t, "ffprobe")}
	e.bin = filepath.Join(e.dir, "lightnvr")
	if out, err := exec.Command("go", "build", "-o", e.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build lightnvr: %v\n%s", err, out)
	}
	webPort := testkit.FreePort(t)
	e.apiPort = testkit.FreePort(t)
	e.base = fmt.Sprintf("http://127.0.0.1:%d", webPort)
	ini := fmt.Sprintf(`[general]
pid_file = %[1]s/lightnvr.pid
log_level = 2
[storage]
path = %[1]s/recordings
[models]
path = %[1]s/models
[database]
path = %[1]s/lightnvr.db
[web]
port = %[2]d
bind_ip = 127.0.0.1
password = %[3]s
[go2rtc]
binary_path = %[4]s
config_dir = %[1]s/go2rtc
api_port = %[5]d
rtsp_port = %[6]d
webrtc_listen_port = %[7]d
stun_enabled = false
`, e.dir, webPort, daemonTestPassword, testkit.Go2RTCBinary(t), e.apiPort, testkit.FreePort(t), testkit.FreePort(t))
	e.ini = filepath.Join(e.dir, "lightnvr.ini")
	if err := os.WriteFile(e.ini, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// daemonProc is one running lightnvr with a logged-in API client.
type daemonProc struct {
	e      *daemonEnv
	cmd    *exec.Cmd
	exited chan error
	client *http.Client
	log    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (e *daemonEnv) start() *daemonProc {
	t := e.t
	t.Helper()
	p := &daemonProc{e: e, cmd: exec.Command(e.bin, "-c", e.ini, "serve"), exited: make(chan error, 1), log: &syncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		err := <-p.exited
		p.exited <- err
		if t.Failed() {
			t.Logf("lightnvr output:\n%s", p.log.String())
		}
	})
	if err := testkit.WaitHTTP(e.base+"/api/health", 30*time.Second); err != nil {
		t.Fatalf("lightnvr did not come up: %v\n%s", err, p.log.String())
	}
	jar, _ := cookiejar.New(nil)
	p.client = &http.Client{Jar: jar, Timeout: 20 * time.Second}
	if code, b := p.call("POST", "/api/auth/login", map[string]string{"username": "admin", "password": daemonTestPassword}); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, b)
	}
	return p
}

func (p *daemonProc) call(method, path string, body any) (int, []byte) {
	p.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.e.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := p.client.Do(req)
	if err != nil {
		p.e.t.Fatalf("%s %s: %v", method, path, err)
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
	t := p.e.t
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
	p.e.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, r := range p.recordings(stream) {
			if match(r) {
				return r
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	p.e.t.Fatalf("no matching recording of %s within %s", stream, within)
	return recordingRow{}
}

// probeDownload downloads a recording through the API and returns ffprobe's duration.
func (p *daemonProc) probeDownload(id, wantSize int64) float64 {
	t := p.e.t
	t.Helper()
	code, mp4 := p.call("GET", fmt.Sprintf("/api/recordings/download/%d", id), nil)
	if code != http.StatusOK || int64(len(mp4)) != wantSize {
		t.Fatalf("download %d: %d, %d bytes, want %d", id, code, len(mp4), wantSize)
	}
	file := filepath.Join(t.TempDir(), "download.mp4")
	if err := os.WriteFile(file, mp4, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(p.e.ffprobe, "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "default=nw=1", file).CombinedOutput()
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

func (p *daemonProc) waitExit(within time.Duration) error {
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(within):
		p.e.t.Fatalf("lightnvr did not exit within %s", within)
		return nil
	}
}

// TestDaemonRecordsStream runs the real daemon the way a user does: built binary,
// managed go2rtc, a camera (another go2rtc serving an ffmpeg test pattern), the
// REST API with a real login. The stream added over the API is recorded and the
// recording downloaded over the API plays in ffprobe. Then the daemon is killed
// with SIGKILL mid-segment: after a restart that segment is complete and plays.
// Finally a SIGTERM stops lightnvr and its go2rtc cleanly.
func TestDaemonRecordsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	cam := testkit.StartCamera(t)
	e := newDaemonEnv(t)
	p := e.start()

	anon := &http.Client{Timeout: 5 * time.Second}
	if resp, err := anon.Get(e.base + "/api/streams"); err != nil || resp.StatusCode != http.StatusUnauthorized {
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

	// Power-cut stand-in: SIGKILL while a segment is open and has a few parts.
	open := p.waitRecording("cam1", 30*time.Second, func(r recordingRow) bool { return !r.IsComplete })
	time.Sleep(2500 * time.Millisecond)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.waitExit(10 * time.Second)

	p = e.start()
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
		resp, err := anon.Get(e.base + "/api/health")
		if err != nil {
			continue
		}
		var h struct {
			Uptime int64 `json:"uptime"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&h)
		resp.Body.Close()
		if strings.Contains(p.log.String(), "restarting") && h.Uptime <= 2 {
			back = true
			break
		}
	}
	if !back {
		t.Fatal("lightnvr did not come back after POST /api/system/restart")
	}
	select {
	case err := <-p.exited:
		t.Fatalf("the restart ended the process instead of replacing it: %v", err)
	default:
	}
	if code, b := p.call("GET", "/api/streams/cam1", nil); code != http.StatusOK {
		t.Fatalf("session after restart: %d %s", code, b)
	}

	// A clean stop: exit 0, go2rtc gone with it.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.waitExit(30 * time.Second); err != nil {
		t.Fatalf("lightnvr exit after SIGTERM: %v", err)
	}
	if err := testkit.WaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/go2rtc/api", e.apiPort), time.Second); err == nil {
		t.Fatal("go2rtc still answers after lightnvr stopped")
	}
}
