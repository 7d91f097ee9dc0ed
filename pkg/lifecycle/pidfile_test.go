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

	"lightnvr/pkg/testkit"
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

// claimExisting writes content to a pid file, as an earlier start may have
// left it, and claims that file the way the daemon does.
func claimExisting(t *testing.T, content string) (path string, logs *bytes.Buffer, release func() error, err error) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "lightnvr.pid")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	logger, logs := logBuffer()
	release, err = writePIDFile(path, logger)
	return path, logs, release, err
}

func TestPIDFileRefusesLiveInstance(t *testing.T) {
	// A live process of this same program: the test binary as a sleeper.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	pid := startProcess(t, cmd)

	path, _, release, err := claimExisting(t, fmt.Sprintf("%d\n", pid))
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

// TestPIDFileReplacesStale: a pid file that names no running lightnvr is
// taken over, and the log says why it was stale.
func TestPIDFileReplacesStale(t *testing.T) {
	cases := []struct {
		name string
		// file returns the stale file's content and what the log must say.
		file func(t *testing.T) (content string, logged []string)
	}{
		{"dead pid", func(t *testing.T) (string, []string) {
			cmd := exec.Command(testkit.Need(t, "sleep"), "0")
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			dead := cmd.Process.Pid
			return fmt.Sprintf("%d\n", dead), []string{"stale pid file", fmt.Sprintf("old_pid=%d", dead)}
		}},
		{"another program", func(t *testing.T) (string, []string) {
			pid := startProcess(t, exec.Command(testkit.Need(t, "sleep"), "30"))
			return fmt.Sprintf("%d\n", pid), []string{"another program", "sleep"}
		}},
		{"garbage", func(*testing.T) (string, []string) { return "not a pid\n", []string{"stale pid file"} }},
		{"empty", func(*testing.T) (string, []string) { return "", []string{"stale pid file"} }},
		{"own pid", func(*testing.T) (string, []string) { return strconv.Itoa(os.Getpid()), []string{"stale pid file"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			content, logged := tc.file(t)
			path, logs, release, err := claimExisting(t, content)
			if err != nil {
				t.Fatalf("stale pid file %q not replaced: %v", content, err)
			}
			defer release()
			if got := readPID(t, path); got != os.Getpid() {
				t.Fatalf("pid file holds %d", got)
			}
			for _, want := range logged {
				if !strings.Contains(logs.String(), want) {
					t.Fatalf("log does not say %q: %q", want, logs.String())
				}
			}
		})
	}
}

func TestPIDFileMissingDir(t *testing.T) {
	if _, err := WritePIDFile(filepath.Join(t.TempDir(), "no", "such", "x.pid")); err == nil {
		t.Fatalf("no error for a missing directory")
	}
}
