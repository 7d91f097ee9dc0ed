package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// PeerUI unpacks LightNVR 0.37's built web UI (the compatibility fixture kept
// beside the repository, in ../shared/peer) into a temporary directory and
// returns its dist/ directory, ready for [web] root.
func PeerUI(t testing.TB) string {
	t.Helper()
	archive := filepath.Join(RepoRoot(t), "..", "shared", "peer", "lightnvr-0.37-webui.tar.xz")
	if _, err := os.Stat(archive); err != nil {
		Missing(t, "LightNVR's web UI fixture is missing: "+err.Error())
	}
	Need(t, "xz")
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xJf", archive, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v\n%s", archive, err, out)
	}
	dist := filepath.Join(dir, "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("unpacked fixture has no dist/index.html: %v", err)
	}
	return dist
}
