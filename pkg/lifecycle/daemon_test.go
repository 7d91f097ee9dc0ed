package lifecycle

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDaemonize(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	logFile := filepath.Join(dir, "daemon.log")
	t.Setenv(helperEnv, "daemon")
	t.Setenv("LIFECYCLE_TEST_DAEMON_OUT", out)

	isChild, err := Daemonize([]string{"-test.run=^$"}, logFile)
	if err != nil {
		t.Fatalf("Daemonize: %v", err)
	}
	if isChild {
		t.Fatalf("parent was told it is the child")
	}

	// Poll for the child's report; the bound turns a dead child into a
	// failure rather than a hang.
	var report []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		report, err = os.ReadFile(out)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile)
			t.Fatalf("daemon child wrote no report; its log: %q", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(report)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		kv[k] = v
	}
	if kv["pid"] == "" || kv["sid"] != kv["pid"] {
		t.Fatalf("child is not a session leader (setsid failed): %v", kv)
	}
	if kv["pid"] == strconv.Itoa(os.Getpid()) {
		t.Fatalf("child has the parent's pid")
	}
	if kv["stdin"] != os.DevNull {
		t.Fatalf("child stdin = %q, want %s", kv["stdin"], os.DevNull)
	}
	if kv["marker"] != "" {
		t.Fatalf("child kept %s=%s in its environment", DaemonEnv, kv["marker"])
	}
	log, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(log), "daemon child writes to stdout") {
		t.Fatalf("child stdout not in the log file: %q (%v)", log, err)
	}
}

func TestDaemonizeBadLogFile(t *testing.T) {
	t.Setenv(DaemonEnv, "")
	if _, err := Daemonize(nil, filepath.Join(t.TempDir(), "missing", "x.log")); err == nil {
		t.Fatalf("no error for an unopenable log file")
	}
}
