// Package testkit starts real parts for tests: go2rtc, ffmpeg sources,
// mosquitto, browsers, qemu. Nothing here is a mock; a part that is missing
// fails the test under CI and skips it elsewhere.
package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// InCI reports whether the tests run under CI (env CI=true), where a missing
// tool is a failure, not a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need returns the path of the external program name. When it is missing the
// test fails under CI and is skipped elsewhere, with a message saying so.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	Missing(t, name+" is not installed (not found in PATH)")
	return ""
}

// Missing stops the test for a missing prerequisite: Fatal under CI, Skip otherwise.
func Missing(t testing.TB, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("missing test prerequisite: %s", why)
	}
	t.Skipf("skipped: %s (set CI=true to make this a failure)", why)
}

// RepoRoot returns the module root: the nearest directory above the working
// directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("repo root: no go.mod above the working directory")
		}
		dir = parent
	}
}
