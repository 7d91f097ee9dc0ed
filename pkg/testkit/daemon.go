package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is the real lightnvr binary with its own data directory and an INI
// file on free loopback ports, run as a user runs it: managed go2rtc, the
// admin password from [web] password. Start it as often as a test needs.
type Daemon struct {
	t        testing.TB
	Dir      string // data directory: database, recordings, go2rtc config
	Bin      string
	INI      string
	Base     string // http://127.0.0.1:PORT
	APIPort  int    // go2rtc's API port
	RTSPPort int    // go2rtc's RTSP port
	Password string // the admin's
}

// NewDaemon builds cmd/lightnvr and writes its configuration. STUN is off and
// WebRTC candidates are pinned to loopback, so nothing leaves the machine.
func NewDaemon(t testing.TB, password string) *Daemon {
	t.Helper()
	Need(t, "ffmpeg")
	d := &Daemon{t: t, Dir: t.TempDir(), Password: password}
	d.Bin = BuildLightnvr(t, d.Dir)
	webPort := FreePort(t)
	d.APIPort, d.RTSPPort = FreePort(t), FreePort(t)
	d.Base = fmt.Sprintf("http://127.0.0.1:%d", webPort)
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
`, d.Dir, webPort, password, Go2RTCBinary(t), d.APIPort, d.RTSPPort, FreePort(t))
	d.INI = filepath.Join(d.Dir, "lightnvr.ini")
	if err := os.WriteFile(d.INI, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	return d
}

// BuildLightnvr builds cmd/lightnvr for this machine into dir and returns
// the binary's path.
func BuildLightnvr(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "lightnvr")
	build := exec.Command("go", "build", "-o", bin, "./cmd/lightnvr")
	build.Dir = RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build lightnvr: %v\n%s", err, out)
	}
	return bin
}

// Set writes key = value into section of the daemon's configuration, before
// Start; the section is added when the file has none.
func (d *Daemon) Set(section, key, value string) {
	d.t.Helper()
	ini, err := os.ReadFile(d.INI)
	if err != nil {
		d.t.Fatal(err)
	}
	head := "[" + section + "]\n"
	line := key + " = " + value + "\n"
	text := string(ini)
	if i := strings.Index(text, head); i >= 0 {
		text = text[:i+len(head)] + line + text[i+len(head):]
	} else {
		text += head + line
	}
	if err := os.WriteFile(d.INI, []byte(text), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// DaemonProc is one run of a Daemon.
type DaemonProc struct {
	Cmd    *exec.Cmd
	Log    *SyncBuffer // stdout and stderr
	exited chan error  // holds the exit result once the process is gone
}

// Start runs the daemon (`serve` with args) and returns once /api/health answers. At cleanup a
// daemon still running gets SIGTERM and must exit cleanly within 30 s (it then
// stops the go2rtc it started); its output is logged when the test failed.
func (d *Daemon) Start(args ...string) *DaemonProc {
	t := d.t
	t.Helper()
	p := &DaemonProc{Cmd: exec.Command(d.Bin, append([]string{"-c", d.INI, "serve"}, args...)...), Log: &SyncBuffer{}, exited: make(chan error, 1)}
	p.Cmd.Dir = d.Dir
	p.Cmd.Stdout, p.Cmd.Stderr = p.Log, p.Log
	// Should the test binary die, the daemon goes with it.
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start lightnvr: %v", err)
	}
	go func() { p.exited <- p.Cmd.Wait() }()
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.Cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-p.exited:
				p.exited <- err
				if err != nil {
					t.Errorf("lightnvr exit after SIGTERM: %v", err)
				}
			case <-time.After(30 * time.Second):
				_ = p.Cmd.Process.Kill()
				p.exited <- <-p.exited
				t.Errorf("lightnvr did not stop within 30 s of SIGTERM")
			}
		}
		if t.Failed() {
			t.Logf("lightnvr output:\n%s", p.Log.String())
		}
	})
	if err := WaitHTTP(d.Base+"/api/health", 30*time.Second); err != nil {
		t.Fatalf("lightnvr did not come up: %v\n%s", err, p.Log.String())
	}
	return p
}

// Exited reports whether the process is gone.
func (p *DaemonProc) Exited() bool {
	select {
	case err := <-p.exited:
		p.exited <- err
		return true
	default:
		return false
	}
}

// Wait waits up to within for the process to exit and returns its exit error;
// it fails the test when the process is still running then.
func (p *DaemonProc) Wait(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(within):
		t.Fatalf("lightnvr did not exit within %s", within)
		return nil
	}
}

// SyncBuffer collects a process's output while it runs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
