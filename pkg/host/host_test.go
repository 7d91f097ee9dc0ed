package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestReadMemoryParsesKernelFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meminfo")
	body := "MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:     512000 kB\nHugePages_Total:       0\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMemory(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Total != 2048000*1024 || m.Available != 512000*1024 {
		t.Errorf("got %+v", m)
	}
	if err := os.WriteFile(p, []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadMemory(p); err == nil || !strings.Contains(err.Error(), "MemAvailable") {
		t.Errorf("a meminfo without MemAvailable: %v", err)
	}
	if _, err := ReadMemory(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing file read as memory")
	}
}

func TestReadThisMachine(t *testing.T) {
	m, err := ReadMemory(MeminfoPath)
	if err != nil {
		t.Fatal(err)
	}
	if m.Total == 0 || m.Available == 0 || m.Available > m.Total {
		t.Errorf("memory %+v", m)
	}
	p, err := ReadProcess("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	if p.RSS < 1<<20 || p.Threads < 1 {
		t.Errorf("this test process: %+v", p)
	}
}

// StatDisk against coreutils' own statfs reading of the same directory.
func TestStatDiskMatchesStat(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command("stat", "-f", "-c", "%S %b %f %a", dir).Output()
	if err != nil {
		t.Fatalf("stat -f: %v", err)
	}
	var n [4]uint64
	for i, f := range strings.Fields(string(out)) {
		if n[i], err = strconv.ParseUint(f, 10, 64); err != nil {
			t.Fatalf("stat -f said %q", out)
		}
	}
	bs, blocks, bfree, bavail := n[0], n[1], n[2], n[3]
	d, err := StatDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Total != blocks*bs {
		t.Errorf("total %d, stat says %d", d.Total, blocks*bs)
	}
	if d.Used != (blocks-bfree)*bs {
		t.Errorf("used %d, stat says %d", d.Used, (blocks-bfree)*bs)
	}
	// Free space moves while other tests write; a few MiB either way.
	if diff := int64(d.Free) - int64(bavail*bs); diff > 64<<20 || diff < -64<<20 {
		t.Errorf("free %d, stat says %d", d.Free, bavail*bs)
	}
	if _, err := StatDisk(filepath.Join(dir, "missing")); err == nil {
		t.Error("statfs of a missing path succeeded")
	}
}

func TestWriteFileReplacesWholeWithMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(p, []byte("old contents, longer than the new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	st, err2 := os.Stat(p)
	if err != nil || err2 != nil || string(b) != "new" || st.Mode().Perm() != 0o600 {
		t.Fatalf("after WriteFile: %q mode %v (%v %v)", b, st.Mode(), err, err2)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Errorf("temporary files left beside it: %v", left)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
}
