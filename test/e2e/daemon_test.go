package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

const adminPassword = "e2e-admin-password"

// lockedBuffer collects the daemon's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLightNVR builds cmd/lightnvr and runs it the way a user does: its own
// data directory, an INI file with free loopback ports, the admin password in
// [web] password and managed go2rtc. It returns the base URL once /api/health
// answers; the daemon (and the go2rtc it started) is stopped in t.Cleanup.
func startLightNVR(t *testing.T) string {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	go2rtcBin := testkit.Go2RTCBinary(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "lightnvr")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lightnvr")
	build.Dir = testkit.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lightnvr: %v\n%s", err, out)
	}
	webPort := testkit.FreePort(t)
	// STUN off and the external address pinned to loopback: WebRTC candidates
	// stay on this machine and nothing asks a public server.
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
external_ip = 127.0.0.1
`, dir, webPort, adminPassword, go2rtcBin, testkit.FreePort(t), testkit.FreePort(t), testkit.FreePort(t))
	iniPath := filepath.Join(dir, "lightnvr.ini")
	if err := os.WriteFile(iniPath, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}

	out := &lockedBuffer{}
	cmd := exec.Command(bin, "-c", iniPath, "serve")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// Should the test binary die, the daemon goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start lightnvr: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM so lightnvr stops the go2rtc it started; SIGKILL if it hangs.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("lightnvr exit after SIGTERM: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("lightnvr did not stop within 30 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("lightnvr output:\n%s", out.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	if err := testkit.WaitHTTP(base+"/api/health", 30*time.Second); err != nil {
		t.Fatalf("lightnvr did not come up: %v\n%s", err, out.String())
	}
	return base
}
