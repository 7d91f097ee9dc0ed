// Package ingenica1_test checks the A1's 16 MiB NOR layout against the real
// firmware: the partitions in genimage-nor16m.cfg fill the flash exactly, the
// U-Boot env names the same partitions, and the squashfs images packed from
// the real mipsle binaries (bin/mipsle, `make mipsle go2rtc`), as Buildroot
// packs them, fit their partitions.
package ingenica1_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

const (
	norBytes   = 16 << 20
	flashImage = "flash-nor16m.bin"
)

// partition is one `partition NAME { image = ... size = ... }` of the flash image.
type partition struct {
	name, image string
	size        int64
}

// TestNOR16MImagesFit builds rootfs.squashfs and app.squashfs the way the
// Buildroot NOR build does (post-build.sh splits lightnvr off with
// nor16m-app.sh; the compression is the defconfig's) and fails when an image
// outgrows the partition genimage would write it to.
func TestNOR16MImagesFit(t *testing.T) {
	root := testkit.RepoRoot(t)
	board := filepath.Join(root, "board", "ingenic-a1")
	parts, flashSize := readLayout(t, filepath.Join(board, "genimage-nor16m.cfg"))
	checkFillsFlash(t, parts, flashSize)
	checkMtdparts(t, parts, filepath.Join(board, "uboot", "uboot-env-nor.txt"))

	built := buildImages(t, root, board)
	t.Logf("16 MiB NOR, %d partitions:", len(parts))
	for _, p := range parts {
		got, ok := built[p.image]
		if !ok {
			t.Logf("  %-7s %6d KiB  %s (not built here)", p.name, p.size>>10, orEmpty(p.image))
			continue
		}
		t.Logf("  %-7s %6d KiB  %s %d KiB, %d KiB free", p.name, p.size>>10, p.image, got>>10, (p.size-got)>>10)
		if got > p.size {
			t.Errorf("%s is %d bytes, over the %d bytes of partition %s by %d", p.image, got, p.size, p.name, got-p.size)
		}
	}
	for image := range built {
		if !hasImage(parts, image) {
			t.Errorf("%s is built but no partition of %s holds it", image, flashImage)
		}
	}
}

func orEmpty(image string) string {
	if image == "" {
		return "(empty)"
	}
	return image
}

func hasImage(parts []partition, image string) bool {
	for _, p := range parts {
		if p.image == image {
			return true
		}
	}
	return false
}

// checkFillsFlash: the partitions add up to the flash, which is 16 MiB, and
// each starts on an erase block; both A/B slots are the same size.
func checkFillsFlash(t *testing.T, parts []partition, flashSize int64) {
	t.Helper()
	if flashSize != norBytes {
		t.Errorf("flash type is %d bytes, want 16 MiB (%d)", flashSize, norBytes)
	}
	var sum int64
	sizes := map[string]int64{}
	for _, p := range parts {
		sum += p.size
		sizes[p.name] = p.size
		if p.size <= 0 || p.size%(64<<10) != 0 {
			t.Errorf("partition %s: %d bytes is not a whole number of 64 KiB erase blocks", p.name, p.size)
		}
	}
	if sum != norBytes {
		t.Errorf("partitions of %s add up to %d bytes, want exactly 16 MiB (%d): %+v", flashImage, sum, norBytes, parts)
	}
	if sizes["app_a"] == 0 || sizes["app_a"] != sizes["app_b"] {
		t.Errorf("app slots: app_a %d bytes, app_b %d bytes, want two equal slots", sizes["app_a"], sizes["app_b"])
	}
}

// buildImages assembles the firmware root from the real binaries, splits it
// for NOR and packs both images; it returns each image's size by file name.
func buildImages(t *testing.T, root, board string) map[string]int64 {
	t.Helper()
	for _, tool := range []string{"mksquashfs", "qemu-mipsel-static", "dpkg-deb", "file", "openssl"} {
		testkit.Need(t, tool)
	}
	for _, bin := range []string{"lightnvr", "go2rtc"} {
		if _, err := os.Stat(filepath.Join(root, "bin", "mipsle", bin)); err != nil {
			testkit.Missing(t, "bin/mipsle/"+bin+" is missing: run `make mipsle go2rtc`")
		}
	}
	dir := t.TempDir()
	rootfs, app := filepath.Join(dir, "rootfs"), filepath.Join(dir, "app")
	run(t, root, filepath.Join(root, "scripts", "firmware-rootfs.sh"), "ingenic-a1", rootfs,
		"bin/mipsle/lightnvr", "bin/mipsle/go2rtc", "nor16m-test")
	run(t, root, filepath.Join(board, "nor16m-app.sh"), rootfs, app)
	args := strings.Fields(run(t, root, filepath.Join(board, "squashfs-args.sh"),
		filepath.Join(root, "buildroot", "configs", "ingenic_a1_lightnvr_defconfig")))
	sizes := map[string]int64{}
	for image, tree := range map[string]string{"rootfs.squashfs": rootfs, "app.squashfs": app} {
		out := filepath.Join(dir, image)
		run(t, root, "mksquashfs", append([]string{tree, out, "-noappend", "-all-root", "-quiet", "-no-progress"}, args...)...)
		st, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		sizes[image] = st.Size()
	}
	t.Logf("packed with mksquashfs %s (the defconfig's rootfs compression)", strings.Join(args, " "))
	return sizes
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
