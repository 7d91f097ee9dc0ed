package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	return n
}

func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %v", name, err)
		}
		t.Skipf("%s not found", name)
	}
	return p
}

// startProcess starts cmd and kills it when the test ends.
func startProcess(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", cmd.Args, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

func TestPIDFileFreshAndRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lightnvr.pid")
	release, err := WritePIDFile(path)
	if err != nil {
		t.Fatalf("WritePIDFile: %v", err)
	}
	if got := readPID(t, path); got != os.Getpid() {
		t.Fatalf("pid file holds %d", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("pid file still there after release: %v", err)
	}
	if err := release(); err != nil {
		t.Fatalf("second release: %v", err)
	}
}

func TestPIDFileReleaseKeepsForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lightnvr.pid")
	release, err := WritePIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Another instance took over the file meanwhile.
	if err := os.WriteFile(path, []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if got := readPID(t, path); got != 999999 {
		t.Fatalf("release removed or changed a file that is not ours: %d", got)
	}
}

func TestPIDFileRefusesLiveInstance(t *testing.T) {
	// A live process of this same program: the test binary as a sleeper.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	pid := startProcess(t, cmd)

	path := filepath.Join(t.TempDir(), "lightnvr.pid")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	logger, _ := logBuffer()
	release, err := writePIDFile(path, logger)
	if err == nil {
		release()
		t.Fatalf("WritePIDFile succeeded while pid %d runs this program", pid)
	}
	if !errors.Is(err, ErrAlreadyRunning) || !strings.Contains(err.Error(), fmt.Sprintf("already running as pid %d", pid)) {
		t.Fatalf("error %q", err)
	}
	if got := readPID(t, path); got != pid {
		t.Fatalf("pid file changed to %d", got)
	}
}

func TestPIDFileReplacesDeadPID(t *testing.T) {
	cmd := exec.Command(needBinary(t, "sleep"), "0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	path := filepath.Join(t.TempDir(), "lightnvr.pid")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", dead)), 0o644); err != nil {
		t.Fatal(err)
	}
	logger, logs := logBuffer()
	release, err := writePIDFile(path, logger)
	if err != nil {
		t.Fatalf("stale pid %d not replaced: %v", dead, err)
	}
	defer release()
	if got := readPID(t, path); got != os.Getpid() {
		t.Fatalf("pid file holds %d", got)
	}
	if !strings.Contains(logs.String(), "stale pid file") || !strings.Contains(logs.String(), fmt.Sprintf("old_pid=%d", dead)) {
		t.Fatalf("no log line about the stale pid: %q", logs.String())
	}
}

func TestPIDFileOtherProgramIsStale(t *testing.T) {
	pid := startProcess(t, exec.Command(needBinary(t, "sleep"), "30"))
	path := filepath.Join(t.TempDir(), "lightnvr.pid")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	logger, logs := logBuffer()
	release, err := writePIDFile(path, logger)
	if err != nil {
		t.Fatalf("pid of another program (sleep) refused: %v", err)
	}
	defer release()
	if got := readPID(t, path); got != os.Getpid() {
		t.Fatalf("pid file holds %d", got)
	}
	if !strings.Contains(logs.String(), "another program") || !strings.Contains(logs.String(), "sleep") {
		t.Fatalf("log does not say why it was stale: %q", logs.String())
	}
}

func TestPIDFileGarbageAndOwnPID(t *testing.T) {
	for _, content := range []string{"not a pid\n", "", strconv.Itoa(os.Getpid())} {
		path := filepath.Join(t.TempDir(), "lightnvr.pid")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		logger, logs := logBuffer()
		release, err := writePIDFile(path, logger)
		if err != nil {
			t.Fatalf("content %q: %v", content, err)
		}
		if got := readPID(t, path); got != os.Getpid() {
			t.Fatalf("content %q: pid file holds %d", content, got)
		}
		if !strings.Contains(logs.String(), "stale pid file") {
			t.Fatalf("content %q: no log line", content)
		}
		release()
	}
}

func TestPIDFileMissingDir(t *testing.T) {
	if _, err := WritePIDFile(filepath.Join(t.TempDir(), "no", "such", "x.pid")); err == nil {
		t.Fatalf("no error for a missing directory")
	}
}
