package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// idleResult is the memory of `lightnvr serve` with no stream, once healthy.
type idleResult struct {
	Bin     string
	Emu     string // emulator command, "" when native
	Healthy time.Duration
	Mem     memInfo
}

func idleCmd(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	bin := fs.String("bin", "bin/lightnvr", "lightnvr binary")
	emu := fs.String("qemu", "", `run the binary under this emulator command (e.g. "qemu-mipsel-static")`)
	settle := fs.Duration("settle", 5*time.Second, "wait this long after the first healthy answer before reading RSS")
	_ = fs.Parse(args)
	r, err := measureIdle(context.Background(), *bin, *emu, nil, *settle)
	if err != nil {
		return err
	}
	printIdle(os.Stdout, []idleResult{r})
	return nil
}

// measureIdle starts `lightnvr serve` with a minimal configuration (no
// stream, go2rtc disabled: go2rtc is its own process), waits for
// /api/health, lets it settle and reads its memory.
func measureIdle(ctx context.Context, bin, emu string, env []string, settle time.Duration) (idleResult, error) {
	res := idleResult{Bin: bin, Emu: emu}
	work, err := os.MkdirTemp("", "nvr-bench-idle-")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(work) }()
	s, err := startServe(ctx, bin, emu, work, "enabled = false\n", env)
	if err != nil {
		return res, err
	}
	defer func() { _ = s.stop(syscall.SIGTERM, 10*time.Second) }()
	res.Healthy = s.healthy
	time.Sleep(settle)
	res.Mem, err = readMem(strconv.Itoa(s.cmd.Process.Pid))
	return res, err
}

// benchPassword is the admin password of every daemon the bench starts.
const benchPassword = "bench-password"

// served is a `lightnvr serve` that answers.
type served struct {
	*child
	base    string // http://127.0.0.1:PORT
	healthy time.Duration
}

// startServe starts `lightnvr serve` (under emu when set) with its data,
// configuration and log in work and the given [go2rtc] section, and
// returns once /api/health answers 200. env nil inherits this process's
// environment.
func startServe(ctx context.Context, bin, emu, work, go2rtcINI string, env []string) (*served, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ini := fmt.Sprintf(`[general]
pid_file = %[1]s/lightnvr.pid
log_file =
[storage]
path = %[1]s/recordings
[database]
path = %[1]s/lightnvr.db
[models]
path = %[1]s/models
[web]
port = %[2]d
bind_ip = 127.0.0.1
password = %[3]s
[go2rtc]
%[4]s`, work, port, benchPassword, go2rtcINI)
	conf := filepath.Join(work, "lightnvr.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		return nil, err
	}
	argv := []string{bin, "-c", conf, "serve"}
	if emu != "" {
		argv = append(strings.Fields(emu), argv...)
	}
	logf, err := os.Create(filepath.Join(work, "out.log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptor
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Env = logf, logf, env
	start := time.Now()
	c, err := startChild(cmd)
	if err != nil {
		return nil, err
	}
	s := &served{child: c, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	cl := &http.Client{Timeout: time.Second}
	for {
		if resp, err := cl.Get(s.base + "/api/health"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.healthy = time.Since(start)
				return s, nil
			}
		}
		select {
		case err := <-c.exited:
			c.exited <- err
			out, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("%s exited before healthy (%v):\n%s", bin, err, out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 90*time.Second {
			_ = c.stop(syscall.SIGKILL, time.Second)
			return nil, errors.New(bin + ": no healthy answer within 90 s")
		}
	}
}

// child is a started process; exited holds Wait's result once it is gone.
type child struct {
	cmd    *exec.Cmd
	exited chan error
}

func startChild(cmd *exec.Cmd) (*child, error) {
	// Should the bench die, its recorders go with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	return c, nil
}

// stop sends sig, waits up to grace for the exit, then kills; it returns
// the exit's error.
func (c *child) stop(sig os.Signal, grace time.Duration) error {
	_ = c.cmd.Process.Signal(sig)
	select {
	case err := <-c.exited:
		c.exited <- err
		return err
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		err := <-c.exited
		c.exited <- err
		return fmt.Errorf("%s: no exit within %s of %v (killed): %w", filepath.Base(c.cmd.Path), grace, sig, err)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// servePhase is the real daemon as a user runs it: `lightnvr serve` with
// the go2rtc it manages, the streams added through the REST API. go2rtc's
// CPU and memory are measured apart, since the issue does not count them.
func servePhase(dir, prefix string, n int, o runOpts) phase {
	var s *served
	fmt.Printf("%s: %s serve, go2rtc %s, %d streams added by POST /api/streams\n", phServe, o.nvrBin, o.go2rtc, n)
	return phase{name: phServe, dir: dir, logs: []string{filepath.Join(dir, "out.log")}, bad: warnLine,
		start: func(ctx context.Context) ([]*child, error) {
			var ports [3]int
			for i := range ports {
				p, err := freePort()
				if err != nil {
					return nil, err
				}
				ports[i] = p
			}
			g2r := fmt.Sprintf("binary_path = %s\nconfig_dir = %s/go2rtc\napi_port = %d\nrtsp_port = %d\nwebrtc_listen_port = %d\nstun_enabled = false\nexternal_ip = 127.0.0.1\n",
				o.go2rtc, dir, ports[0], ports[1], ports[2])
			var err error
			if s, err = startServe(ctx, o.nvrBin, "", dir, g2r, o.env); err != nil {
				return nil, err
			}
			procs := []*child{s.child}
			for i := range n {
				if err := s.addStream(ctx, "cam"+strconv.Itoa(i), prefix+strconv.Itoa(i), o.segment); err != nil {
					return procs, err
				}
			}
			return procs, nil
		},
		side: func(procs []*child) (string, []int) {
			return "go2rtc", childPIDs(procs[0].cmd.Process.Pid, "go2rtc")
		},
	}
}

// addStream adds a continuously recording stream, video only as the
// other recorders take it.
func (s *served) addStream(ctx context.Context, name, url string, segment time.Duration) error {
	body, _ := json.Marshal(map[string]any{"name": name, "url": url, "record": true, "record_audio": false,
		"segment_duration": int(segment.Seconds())})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/api/streams", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth("admin", benchPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("add stream %s: %w", name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusCreated {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return fmt.Errorf("add stream %s: %s %s", name, resp.Status, strings.TrimSpace(b.String()))
	}
	return nil
}
