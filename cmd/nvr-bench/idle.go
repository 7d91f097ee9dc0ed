package main

import (
	"context"
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
	r, err := measureIdle(context.Background(), *bin, *emu, *settle)
	if err != nil {
		return err
	}
	printIdle(os.Stdout, []idleResult{r})
	return nil
}

// measureIdle starts `lightnvr serve` with a minimal configuration (no
// stream, go2rtc disabled: go2rtc is its own process), waits for
// /api/health, lets it settle and reads its memory.
func measureIdle(ctx context.Context, bin, emu string, settle time.Duration) (idleResult, error) {
	res := idleResult{Bin: bin, Emu: emu}
	work, err := os.MkdirTemp("", "nvr-bench-idle-")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(work) }()
	port, err := freePort()
	if err != nil {
		return res, err
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
password = bench-idle-password
[go2rtc]
enabled = false
`, work, port)
	conf := filepath.Join(work, "lightnvr.ini")
	if err := os.WriteFile(conf, []byte(ini), 0o600); err != nil {
		return res, err
	}
	argv := []string{bin, "-c", conf, "serve"}
	if emu != "" {
		argv = append(strings.Fields(emu), argv...)
	}
	logf, err := os.Create(filepath.Join(work, "out.log"))
	if err != nil {
		return res, err
	}
	defer func() { _ = logf.Close() }()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/health"
	cl := &http.Client{Timeout: time.Second}
	for {
		if resp, err := cl.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			out, _ := os.ReadFile(logf.Name())
			return res, fmt.Errorf("%s exited before healthy (%v):\n%s", bin, err, out)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > 90*time.Second {
			return res, errors.New(bin + ": no healthy answer within 90 s")
		}
	}
	res.Healthy = time.Since(start)
	time.Sleep(settle)
	res.Mem, err = readMem(strconv.Itoa(cmd.Process.Pid))
	return res, err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
