package storage

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"lightnvr/pkg/config"
	"lightnvr/pkg/testkit"
)

// TestSwapFile: off by default; when on, a full (not sparse) swap area of
// whole pages with mkswap's header in the data directory, reused while its
// size is right, replaced when not, and refused when it would take the
// disk below its free-space floor. Enabling it (swapon) is tried by
// SetUpSwap and needs a filesystem that takes swap files, which a tmpfs is
// not: this test checks the file and the decision.
func TestSwapFile(t *testing.T) {
	dir := mountTmpfs(t, 40)
	d := testkit.OpenDB(t, "")
	c := prodController(t, d, dir, func(cfg *Config) { cfg.MinFreePct = 10 })
	mem := config.Default().Memory
	if p, err := c.SetUpSwap(mem); p != "" || err != nil {
		t.Fatalf("default [memory]: swap %q, %v", p, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "swap")); !os.IsNotExist(err) {
		t.Fatalf("swap file created with use_swap off: %v", err)
	}

	page := int64(os.Getpagesize())
	mem.UseSwap, mem.SwapSize = true, 8<<20+123 // rounded down to whole pages
	path, err := c.prepareSwap(mem)
	if err != nil {
		t.Fatal(err)
	}
	want := (8<<20 + 123) / page * page
	checkSwapArea(t, path, filepath.Join(dir, "swap"), want, page)
	ino := inode(t, path)
	if p, err := c.prepareSwap(mem); err != nil || p != path || inode(t, path) != ino {
		t.Errorf("a valid swap file was not reused: %q, %v", p, err)
	}

	mem.SwapSize = 16 << 20
	if _, err := c.prepareSwap(mem); err != nil {
		t.Fatal(err)
	}
	checkSwapArea(t, path, path, 16<<20, page)

	// 40 MiB, floor 4 MiB, 16 MiB taken: a new 22 MiB file, written
	// beside the old one, would leave 2.
	mem.SwapSize = 22 << 20
	if p, err := c.prepareSwap(mem); err == nil {
		t.Fatalf("a swap file taking the disk below its floor was created at %s", p)
	}
	checkSwapArea(t, path, path, 16<<20, page)
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	mem.SwapSize = page * 9
	if _, err := c.prepareSwap(mem); err == nil {
		t.Error("a swap file under ten pages was accepted")
	}
}

func checkSwapArea(t *testing.T, path, wantPath string, size, page int64) {
	t.Helper()
	if path != wantPath {
		t.Fatalf("swap file at %s, want %s", path, wantPath)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	switch {
	case int64(len(b)) != size:
		t.Errorf("swap file of %d bytes, want %d", len(b), size)
	case st.Blocks*512 < size:
		t.Errorf("swap file is sparse: %d bytes allocated of %d", st.Blocks*512, size)
	case fi.Mode().Perm() != 0o600:
		t.Errorf("swap file mode %v", fi.Mode())
	case string(b[page-10:page]) != "SWAPSPACE2":
		t.Errorf("no swap signature at the end of the first page")
	case binary.NativeEndian.Uint32(b[1024:]) != 1 || int64(binary.NativeEndian.Uint32(b[1028:])) != size/page-1:
		t.Errorf("header: version %d, last page %d, want 1 and %d", binary.NativeEndian.Uint32(b[1024:]),
			binary.NativeEndian.Uint32(b[1028:]), size/page-1)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}
