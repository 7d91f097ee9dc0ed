// Package ingenica1_test checks the A1's 16 MiB NOR layout against the real
// firmware: the partitions in genimage-nor16m.cfg fill the flash exactly, the
// U-Boot env names the same partitions, the squashfs images packed from the
// real mipsle binaries (bin/mipsle, `make mipsle go2rtc`), as Buildroot packs
// them, fit their partitions, and the firmware's OTA settings and bundle
// (`make firmware`) update the app slots.
package ingenica1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/config"
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
	parts, flashSize := readLayout(t, filepath.Join(board, "genimage-nor16m.cfg"), flashImage)
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
	dir := t.TempDir()
	rootfs, app := buildRootfs(t, root, dir), filepath.Join(dir, "app")
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

// buildRootfs assembles the A1's firmware root from the real mipsle binaries
// (scripts/firmware-rootfs.sh, as `make rootfs` does) in dir/rootfs.
func buildRootfs(t *testing.T, root, dir string) string {
	t.Helper()
	for _, tool := range []string{"mksquashfs", "qemu-mipsel-static", "dpkg-deb", "file", "openssl"} {
		testkit.Need(t, tool)
	}
	for _, bin := range []string{"lightnvr", "go2rtc"} {
		if _, err := os.Stat(filepath.Join(root, "bin", "mipsle", bin)); err != nil {
			testkit.Missing(t, "bin/mipsle/"+bin+" is missing: run `make mipsle go2rtc`")
		}
	}
	rootfs := filepath.Join(dir, "rootfs")
	run(t, root, filepath.Join(root, "scripts", "firmware-rootfs.sh"), boardName, rootfs,
		"bin/mipsle/lightnvr", "bin/mipsle/go2rtc", "firmware-test")
	return rootfs
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

const boardName = "ingenic-a1"

// TestNOR16MOTAConfig checks the OTA settings the NOR split gives the
// firmware (nor16m-app.sh: /etc/fw_env.config and [ota] in lightnvr.ini)
// against genimage-nor16m.cfg: the env copies are the env partitions, slot a
// and b write app_a and app_b, each /dev/mtdN numbered in flash order.
func TestNOR16MOTAConfig(t *testing.T) {
	root := testkit.RepoRoot(t)
	board := filepath.Join(root, "board", boardName)
	parts, _ := readLayout(t, filepath.Join(board, "genimage-nor16m.cfg"), flashImage)
	tree := t.TempDir()
	writeTree(t, tree, map[string][]byte{
		"usr/bin/lightnvr":          []byte("#!/bin/sh\n"),
		"etc/lightnvr/lightnvr.ini": readFile(t, filepath.Join(root, "rootfs-overlay", "etc", "lightnvr", "lightnvr.ini")),
	})
	run(t, root, filepath.Join(board, "nor16m-app.sh"), tree, filepath.Join(t.TempDir(), "app"))
	oc := loadOTA(t, filepath.Join(tree, "etc/lightnvr/lightnvr.ini"))

	mtd := func(name string) string {
		for i, p := range parts {
			if p.name == name {
				return "/dev/" + mtdDevice(i)
			}
		}
		t.Fatalf("genimage-nor16m.cfg has no partition %s", name)
		return ""
	}
	if oc.Board != boardName {
		t.Errorf("[ota] board = %q, want %q (the BOARD `make firmware` signs bundles for)", oc.Board, boardName)
	}
	if want := "app=" + mtd("app_a"); oc.SlotA != want {
		t.Errorf("[ota] slot_a = %q, want %q", oc.SlotA, want)
	}
	if want := "app=" + mtd("app_b"); oc.SlotB != want {
		t.Errorf("[ota] slot_b = %q, want %q", oc.SlotB, want)
	}
	if !strings.HasPrefix(oc.KeysFile, "/data/") {
		t.Errorf("[ota] keys_file = %q, want a file on the data partition (/data/...)", oc.KeysFile)
	}
	devs := envDevices(t, filepath.Join(tree, strings.TrimPrefix(oc.EnvConfig, "/")))
	if want := []string{mtd("env"), mtd("env2")}; strings.Join(devs, " ") != strings.Join(want, " ") {
		t.Errorf("%s names %v, want the env partitions %v", oc.EnvConfig, devs, want)
	}
}

// TestFirmwareBundle runs the bundle step of `make firmware`
// (scripts/firmware-bundle.sh) on a root filesystem holding the real mipsle
// lightnvr, then checks the result with the real host binary: `ota verify`
// accepts the bundle and refuses a copy with one image byte flipped, and
// `ota install`, with the firmware's own [ota] settings pointed at files
// standing in for the NOR partitions, writes app_b and switches bootslot.
func TestFirmwareBundle(t *testing.T) {
	root := testkit.RepoRoot(t)
	for _, tool := range []string{"mksquashfs", "mkenvimage", "fw_printenv"} {
		testkit.Need(t, tool)
	}
	host := filepath.Join(root, "bin", "lightnvr")
	mipsle := filepath.Join(root, "bin", "mipsle", "lightnvr")
	for _, bin := range []string{host, mipsle} {
		if _, err := os.Stat(bin); err != nil {
			testkit.Missing(t, bin+" is missing: run `make build mipsle`")
		}
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "dev.key")
	pub := strings.TrimSpace(run(t, root, host, "ota", "keygen", key))

	rootfs, out := filepath.Join(dir, "rootfs"), filepath.Join(dir, "firmware")
	writeTree(t, rootfs, map[string][]byte{
		"bin/busybox":               []byte("#!/bin/sh\n"),
		"usr/bin/lightnvr":          readFile(t, mipsle),
		"etc/lightnvr/lightnvr.ini": readFile(t, filepath.Join(root, "rootfs-overlay", "etc", "lightnvr", "lightnvr.ini")),
	})
	run(t, root, filepath.Join(root, "scripts", "firmware-bundle.sh"), boardName, rootfs, out, host, key, "1.5.0", "1.2.0")
	bundle := filepath.Join(out, "lightnvr-update.bundle")

	none := filepath.Join(dir, "none.ini")
	code, msg := lightnvr(host, "-c", none, "ota", "verify", "-pubkey", pub, "-board", boardName, bundle)
	if code != 0 || !strings.Contains(msg, "ok: version 1.5.0 for "+boardName+" (min 1.2.0)") || !strings.Contains(msg, "app -> app") {
		t.Fatalf("ota verify of the built bundle: exit %d, want 0 and the app image:\n%s", code, msg)
	}
	data := readFile(t, bundle)
	data[len(data)-100] ^= 0x01 // inside the app image, the last one
	tampered := filepath.Join(dir, "tampered.bundle")
	writeTree(t, dir, map[string][]byte{"tampered.bundle": data})
	code, msg = lightnvr(host, "-c", none, "ota", "verify", "-pubkey", pub, "-board", boardName, tampered)
	if code != 1 || !strings.Contains(msg, "bundle refused: sha256 mismatch") {
		t.Errorf("ota verify of a tampered bundle: exit %d, want 1 and \"bundle refused: sha256 mismatch\":\n%s", code, msg)
	}

	flash, ini := fileFlash(t, root, dir, rootfs, pub)
	if code, msg := lightnvr(host, "-c", ini, "ota", "install", bundle); code != 0 {
		t.Fatalf("ota install: exit %d\n%s", code, msg)
	}
	envCfg := filepath.Join(dir, "fw_env.config")
	for name, want := range map[string]string{"bootslot": "b", "upgrade_available": "1", "bootcount": "0"} {
		if got := strings.TrimSpace(run(t, root, "fw_printenv", "-c", envCfg, "-n", name)); got != want {
			t.Errorf("after install fw_printenv %s = %q, want %q", name, got, want)
		}
	}
	app := readFile(t, filepath.Join(out, "app.squashfs"))
	if got := readFile(t, flash["app_b"]); !bytes.HasPrefix(got, app) {
		t.Errorf("app_b does not start with app.squashfs after the install")
	}
	if got := readFile(t, flash["app_a"]); bytes.Contains(got[:4096], []byte("hsqs")) {
		t.Errorf("app_a, the running slot, was written")
	}
}

// fileFlash lays out the NOR partitions of genimage-nor16m.cfg as files
// dir/dev/mtdN of their sizes, the env copies holding the board's factory env
// (mkenvimage, as post-image.sh makes it), and returns them by partition name
// with a lightnvr.ini: the firmware's own (from the split rootfs) with /dev/
// and /etc/fw_env.config moved under dir and pub as the trusted key.
func fileFlash(t *testing.T, root, dir, rootfs, pub string) (map[string]string, string) {
	t.Helper()
	board := filepath.Join(root, "board", boardName)
	parts, _ := readLayout(t, filepath.Join(board, "genimage-nor16m.cfg"), flashImage)
	envImg := filepath.Join(dir, "env.bin")
	run(t, root, "mkenvimage", "-r", "-s", "0x10000", "-o", envImg, filepath.Join(board, "uboot", "uboot-env-nor.txt"))
	flash := map[string]string{}
	for i, p := range parts {
		path := filepath.Join(dir, "dev", mtdDevice(i))
		flash[p.name] = path
		var content []byte
		if p.name == "env" || p.name == "env2" {
			content = readFile(t, envImg)
		}
		writeTree(t, dir, map[string][]byte{filepath.Join("dev", mtdDevice(i)): content})
		if err := os.Truncate(path, p.size); err != nil {
			t.Fatal(err)
		}
	}
	return flash, movedOTAConfig(t, dir, rootfs, pub)
}

// movedOTAConfig writes dir/lightnvr.ini, the firmware's own (from rootfs)
// with /dev/ and /etc/fw_env.config moved under dir, its keys_file in dir
// trusting pub, and returns its path.
func movedOTAConfig(t *testing.T, dir, rootfs, pub string) string {
	t.Helper()
	moved := strings.NewReplacer("/dev/", filepath.Join(dir, "dev")+"/", "/etc/fw_env.config", filepath.Join(dir, "fw_env.config"))
	ini := moved.Replace(string(readFile(t, filepath.Join(rootfs, "etc", "lightnvr", "lightnvr.ini"))))
	oc := loadOTA(t, filepath.Join(rootfs, "etc", "lightnvr", "lightnvr.ini"))
	ini = strings.Replace(ini, "keys_file = "+oc.KeysFile, "keys_file = "+filepath.Join(dir, "keys"), 1)
	writeTree(t, dir, map[string][]byte{
		"fw_env.config": []byte(moved.Replace(string(readFile(t, filepath.Join(rootfs, "etc", "fw_env.config"))))),
		"lightnvr.ini":  []byte(ini),
		"keys":          []byte(pub + "\n"),
	})
	return filepath.Join(dir, "lightnvr.ini")
}

func loadOTA(t *testing.T, ini string) config.OTAConfig {
	t.Helper()
	cfg, err := config.Load(ini)
	if err != nil {
		t.Fatalf("%s: %v", ini, err)
	}
	if cfg.OTA.EnvConfig == "" {
		t.Fatalf("%s: OTA is off (no [ota] env_config)", ini)
	}
	return cfg.OTA
}

// envDevices returns the device column of an fw_env.config.
func envDevices(t *testing.T, path string) []string {
	t.Helper()
	var devs []string
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			devs = append(devs, f[0])
		}
	}
	return devs
}

// lightnvr runs the binary and returns its exit code and output.
func lightnvr(bin string, args ...string) (int, string) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		return -1, err.Error()
	}
	return 0, string(out)
}

func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// readFile reads the file at the joined path elements.
func readFile(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
