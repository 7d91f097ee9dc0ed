package testkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Go2RTCBinary returns the go2rtc built by `make go2rtc` (bin/go2rtc).
func Go2RTCBinary(t testing.TB) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "bin", "go2rtc")
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		Missing(t, p+" is missing: run `make go2rtc`")
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	// The kernel may offer a port again once its listener closed, and a test
	// that asks for two ports (web and go2rtc) must get two: remember what
	// this process handed out.
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	t.Fatal("free port: the kernel offered only ports already handed out")
	return 0
}

var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// RefusingURL is an RTSP URL on a loopback port nobody listens on: a camera
// that refuses connections.
func RefusingURL(t testing.TB) string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/refused", FreePort(t))
}

// TestPatternSource is a go2rtc exec source: ffmpeg's moving test pattern as
// H.264, published into go2rtc. go2rtc starts it when the stream has a reader.
func TestPatternSource(size string, rate int) string {
	return fmt.Sprintf("exec:ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=%s:rate=%d "+
		"-c:v libx264 -preset ultrafast -tune zerolatency -g %d -f rtsp {output}", size, rate, 2*rate)
}

// Go2RTC is a go2rtc process started for one test.
type Go2RTC struct {
	APIPort  int
	RTSPPort int
	// API is the API base URL, base path included.
	API  string
	Dir  string
	Cmd  *exec.Cmd
	done chan struct{}
}

// StartGo2RTC runs bin/go2rtc on free loopback ports with api.base_path /go2rtc
// and the given extra YAML appended to its config. It waits until the API
// answers and stops the process (and its children) in t.Cleanup.
func StartGo2RTC(t testing.TB, extraYAML string) *Go2RTC {
	t.Helper()
	return StartGo2RTCOn(t, FreePort(t), FreePort(t), extraYAML)
}

// StartGo2RTCOn is StartGo2RTC on the given ports, with extraConfigs passed as
// further -config files after its own (as the appliance passes go2rtc's
// credentials file). It waits until the API answers at all: with credentials
// in extraConfigs that answer is a 401.
func StartGo2RTCOn(t testing.TB, apiPort, rtspPort int, extraYAML string, extraConfigs ...string) *Go2RTC {
	t.Helper()
	bin := Go2RTCBinary(t)
	Need(t, "ffmpeg")
	g := &Go2RTC{APIPort: apiPort, RTSPPort: rtspPort, Dir: t.TempDir(), done: make(chan struct{})}
	g.API = fmt.Sprintf("http://127.0.0.1:%d/go2rtc", g.APIPort)
	cfg := fmt.Sprintf("api:\n  listen: \"127.0.0.1:%d\"\n  base_path: /go2rtc\nrtsp:\n  listen: \"127.0.0.1:%d\"\n"+
		"webrtc:\n  listen: \"\"\n  ice_servers: []\nlog:\n  format: text\n  time: \"\"\n", g.APIPort, g.RTSPPort)
	if extraYAML != "" {
		cfg += strings.TrimRight(extraYAML, "\n") + "\n"
	}
	path := filepath.Join(g.Dir, "go2rtc.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(g.Dir, "go2rtc.log"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-config", path}
	for _, c := range extraConfigs {
		args = append(args, "-config", c)
	}
	g.Cmd = exec.Command(bin, args...)
	g.Cmd.Dir = g.Dir
	g.Cmd.Stdout, g.Cmd.Stderr = logf, logf
	g.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := g.Cmd.Start(); err != nil {
		t.Fatalf("start go2rtc: %v", err)
	}
	go func() {
		_ = g.Cmd.Wait()
		logf.Close()
		close(g.done)
	}()
	t.Cleanup(func() {
		g.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(g.Dir, "go2rtc.log")); err == nil {
				t.Logf("go2rtc log:\n%s", b)
			}
		}
	})
	if err := waitAnswer(g.API+"/api", len(extraConfigs) > 0, 10*time.Second); err != nil {
		t.Fatalf("go2rtc did not come up: %v", err)
	}
	return g
}

// waitAnswer is WaitHTTP, or with anyStatus a wait for any HTTP answer.
func waitAnswer(url string, anyStatus bool, timeout time.Duration) error {
	if !anyStatus {
		return WaitHTTP(url, timeout)
	}
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering after %s: %v", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops go2rtc and everything it spawned, and waits for it.
func (g *Go2RTC) Kill() {
	if g.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-g.Cmd.Process.Pid, syscall.SIGKILL)
	<-g.done
}

// WaitHTTP polls url until it answers 2xx or timeout passes.
func WaitHTTP(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not answering after %s: %v", url, timeout, last)
}

// FFprobeCodec runs ffprobe over RTSP/TCP against url and returns the codec
// name of the first video stream.
func FFprobeCodec(t testing.TB, url string, timeout time.Duration) (string, error) {
	t.Helper()
	bin := Need(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name", "-of", "default=nokey=1:noprint_wrappers=1", url)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", fmt.Errorf("ffprobe %s: no answer within %s", url, timeout)
	}
	if err != nil {
		return "", fmt.Errorf("ffprobe %s: %v: %s", url, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

// Camera is an RTSP camera for tests: a separate go2rtc serving ffmpeg's test
// pattern (H.264), kept encoding (preload) so every reader gets a keyframe
// within a GOP. go2rtc refuses exec sources over its API, so a camera is the
// way to give the go2rtc under test an RTSP source it can add at run time.
type Camera struct {
	*Go2RTC
}

// StartCamera starts a camera serving one stream, "pattern".
func StartCamera(t testing.TB) *Camera {
	t.Helper()
	return &Camera{Go2RTC: StartGo2RTC(t, cameraYAML())}
}

// URL is the camera's RTSP URL.
func (c *Camera) URL() string {
	return fmt.Sprintf("rtsp://127.0.0.1:%d/pattern", c.RTSPPort)
}
