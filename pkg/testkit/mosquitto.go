package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MosquittoOptions configure a test broker. The zero value is an anonymous
// plain-TCP broker without persistence.
type MosquittoOptions struct {
	// Users, when set, are the only accounts (user → password); anonymous
	// clients are refused.
	Users map[string]string
	// CertFile and KeyFile, when set, make the listener TLS-only.
	CertFile, KeyFile string
}

// Mosquitto is a broker run by a test, kept on its port across Stop/Start
// with its sessions and retained messages persisted.
type Mosquitto struct {
	Port int
	Dir  string
	conf string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartMosquitto runs mosquitto on a free loopback port and waits until it
// accepts connections. It stops with the test.
func StartMosquitto(t testing.TB, opt MosquittoOptions) *Mosquitto {
	t.Helper()
	Need(t, "mosquitto")
	m := &Mosquitto{Port: FreePort(t), Dir: t.TempDir()}
	lines := []string{
		fmt.Sprintf("listener %d 127.0.0.1", m.Port),
		"persistence true",
		"persistence_location " + m.Dir + "/",
		"autosave_interval 1",
		"log_dest file " + filepath.Join(m.Dir, "mosquitto.log"),
		"log_type all",
	}
	if u, err := user.Current(); err == nil {
		// Started as root, mosquitto would switch to its own user, who may
		// not read the test's files.
		lines = append(lines, "user "+u.Username)
	}
	if len(opt.Users) > 0 {
		pw := filepath.Join(m.Dir, "passwd")
		bin := Need(t, "mosquitto_passwd")
		for u, p := range opt.Users {
			args := []string{"-b", pw, u, p}
			if _, err := os.Stat(pw); err != nil {
				args = append([]string{"-c"}, args...)
			}
			if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_passwd: %v: %s", err, out)
			}
		}
		lines = append(lines, "allow_anonymous false", "password_file "+pw)
	} else {
		lines = append(lines, "allow_anonymous true")
	}
	if opt.CertFile != "" {
		lines = append(lines, "certfile "+opt.CertFile, "keyfile "+opt.KeyFile, "cafile "+opt.CertFile)
	}
	m.conf = filepath.Join(m.Dir, "mosquitto.conf")
	if err := os.WriteFile(m.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(m.Dir, "mosquitto.log")); err == nil {
				t.Logf("mosquitto log (tail):\n%s", tail(string(b), 4000))
			}
		}
	})
	m.Start(t)
	return m
}

// Start runs the broker (again) and waits until its port accepts.
func (m *Mosquitto) Start(t testing.TB) {
	t.Helper()
	m.cmd = exec.Command(Need(t, "mosquitto"), "-c", m.conf)
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	m.done = make(chan struct{})
	// Errors before the log file opens (a bad option) go to stderr.
	if f, err := os.OpenFile(filepath.Join(m.Dir, "mosquitto.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		m.cmd.Stderr = f
		defer f.Close()
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(m.cmd, m.done)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not come up on %s: %v", m.Addr(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the broker (SIGTERM: it saves its sessions) and waits for it.
func (m *Mosquitto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	}
	m.cmd = nil
}

// Addr is host:port of the listener.
func (m *Mosquitto) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.Port) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
