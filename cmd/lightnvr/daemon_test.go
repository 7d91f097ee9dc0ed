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
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// TestDaemonRecordsStream runs the real daemon the way a user does: built binary,
// managed go2rtc, a camera (another go2rtc serving an ffmpeg test pattern), the
// REST API with a real login. The stream added over the API must be recorded,
// and the recording downloaded over the API must play in ffprobe. A clean
// SIGTERM must stop lightnvr and its go2rtc.
func TestDaemonRecordsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	testkit.Need(t, "ffmpeg")
	ffprobe := testkit.Need(t, "ffprobe")
	go2rtcBin := testkit.Go2RTCBinary(t)
	cam := testkit.StartCamera(t)

	dir := t.TempDir()
	bin := filepath.Join(dir, "lightnvr")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lightnvr: %v\n%s", err, out)
	}
	webPort := testkit.FreePort(t)
	apiPort, rtspPort, webrtcPort := testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t)
	const password = "daemon-test-password"
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
`, dir, webPort, password, go2rtcBin, apiPort, rtspPort, webrtcPort)
	iniPath := filepath.Join(dir, "lightnvr.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}

	var logBuf bytes.Buffer
	cmd := exec.Command(bin, "-c", iniPath, "serve")
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("lightnvr output:\n%s", logBuf.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	if err := testkit.WaitHTTP(base+"/api/health", 30*time.Second); err != nil {
		t.Fatalf("lightnvr did not come up: %v", err)
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	call := func(method, path string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	if code, b := call("GET", "/api/streams", nil); code != http.StatusUnauthorized {
		t.Fatalf("streams without login: %d %s, want 401", code, b)
	}
	if code, b := call("POST", "/api/auth/login", map[string]string{"username": "admin", "password": password}); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, b)
	}
	stream := map[string]any{"name": "cam1", "url": cam.URL(), "enabled": true, "streaming_enabled": true,
		"record": true, "segment_duration": 5, "record_audio": false}
	if code, b := call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}

	// Wait for a finished segment and the stream being reported up.
	type recording struct {
		ID         int64 `json:"id"`
		IsComplete bool  `json:"is_complete"`
		SizeBytes  int64 `json:"size_bytes"`
	}
	var done *recording
	deadline := time.Now().Add(60 * time.Second)
	for done == nil && time.Now().Before(deadline) {
		code, b := call("GET", "/api/recordings?stream=cam1", nil)
		if code != http.StatusOK {
			t.Fatalf("list recordings: %d %s", code, b)
		}
		var list struct {
			Recordings []recording `json:"recordings"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("list recordings: %v: %s", err, b)
		}
		for i := range list.Recordings {
			if list.Recordings[i].IsComplete && list.Recordings[i].SizeBytes > 0 {
				done = &list.Recordings[i]
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	if done == nil {
		t.Fatal("no complete recording of cam1 within 60 s")
	}

	code, health := call("GET", "/api/health", nil)
	if code != http.StatusOK || !strings.Contains(string(health), `"name":"cam1"`) {
		t.Fatalf("health does not list cam1: %d %s", code, health)
	}

	code, mp4 := call("GET", fmt.Sprintf("/api/recordings/download/%d", done.ID), nil)
	if code != http.StatusOK || int64(len(mp4)) != done.SizeBytes {
		t.Fatalf("download: %d, %d bytes, want %d", code, len(mp4), done.SizeBytes)
	}
	file := filepath.Join(dir, "download.mp4")
	if err := os.WriteFile(file, mp4, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "format=duration:stream=codec_name", "-of", "default=nw=1", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "codec_name=h264") {
		t.Fatalf("ffprobe of the downloaded recording: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "rror") {
		t.Fatalf("ffprobe reports errors:\n%s", out)
	}

	// A clean stop: lightnvr exits 0 and takes its go2rtc with it.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("lightnvr exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lightnvr did not stop within 30 s of SIGTERM")
	}
	if err := testkit.WaitHTTP(fmt.Sprintf("http://127.0.0.1:%d/go2rtc/api", apiPort), time.Second); err == nil {
		t.Fatal("go2rtc still answers after lightnvr stopped")
	}
}
