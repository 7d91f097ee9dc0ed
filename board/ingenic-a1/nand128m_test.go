package ingenica1_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lightnvr/pkg/testkit"
)

// TestNAND128MBundle runs the bundle step of `make firmware
// FLASH_LAYOUT=nand128m` (scripts/firmware-bundle.sh) on the root filesystem
// built from the real mipsle binaries, with a stand-in kernel, and checks the
// result against genimage-nand128m.cfg: every image fits the UBI volumes
// genimage writes it to, the firmware's [ota] slots name those volumes in
// ubinize's numbering and its env the env partition, `ota verify` accepts the
// bundle, and `ota install` into files standing in for the volumes writes
// slot b's kernel and rootfs and switches bootslot.
func TestNAND128MBundle(t *testing.T) {
	root := testkit.RepoRoot(t)
	for _, tool := range []string{"mkenvimage", "fw_printenv"} {
		testkit.Need(t, tool)
	}
	host := filepath.Join(root, "bin", "lightnvr")
	if _, err := os.Stat(host); err != nil {
		testkit.Missing(t, host+" is missing: run `make build`")
	}
	board := filepath.Join(root, "board", boardName)
	cfg := filepath.Join(board, "genimage-nand128m.cfg")
	top := readGenimage(t, cfg)
	volumes, _ := imagePartitions(t, cfg, top, "ubi.img")
	parts, _ := imagePartitions(t, cfg, top, nandFlashImage)

	dir := t.TempDir()
	rootfs := buildRootfs(t, root, dir)
	key := filepath.Join(dir, "dev.key")
	pub := strings.TrimSpace(run(t, root, host, "ota", "keygen", key))
	uimage := filepath.Join(dir, "uImage.in")
	writeTree(t, dir, map[string][]byte{"uImage.in": bytes.Repeat([]byte("kernel stand-in."), 128<<10)})
	out := filepath.Join(dir, "firmware")
	run(t, root, "env", "FLASH_LAYOUT=nand128m", "UIMAGE="+uimage,
		filepath.Join(root, "scripts", "firmware-bundle.sh"), boardName, rootfs, out, host, key, "2.0.0")
	checkVolumesHold(t, volumes, out)

	oc := loadOTA(t, filepath.Join(rootfs, "etc", "lightnvr", "lightnvr.ini"))
	ubi := func(name string) string {
		for i, v := range volumes {
			if v.name == name {
				return fmt.Sprintf("/dev/ubi0_%d", i)
			}
		}
		t.Fatalf("ubi.img has no volume %s", name)
		return ""
	}
	for slot, got := range map[string]string{"a": oc.SlotA, "b": oc.SlotB} {
		if want := "kernel=" + ubi("kernel_"+slot) + ",rootfs=" + ubi("rootfs_"+slot); got != want {
			t.Errorf("[ota] slot_%s = %q, want %q (ubinize numbers the volumes in genimage's order)", slot, got, want)
		}
	}
	env := "/dev/" + mtdDevice(partIndex(t, parts, "env"))
	if devs := envDevices(t, filepath.Join(rootfs, "etc", "fw_env.config")); strings.Join(devs, " ") != env+" "+env {
		t.Errorf("fw_env.config names %v, want both env copies in the env partition %s", devs, env)
	}

	bundle := filepath.Join(out, "lightnvr-update.bundle")
	code, msg := lightnvr(host, "-c", filepath.Join(dir, "none.ini"), "ota", "verify", "-pubkey", pub, "-board", boardName, bundle)
	if code != 0 || !strings.Contains(msg, "rootfs -> rootfs") || !strings.Contains(msg, "kernel -> kernel") {
		t.Fatalf("ota verify of the NAND bundle: exit %d, want 0 with a kernel and a rootfs image:\n%s", code, msg)
	}

	vols := fileVolumes(t, root, dir, volumes, parts)
	ini := movedOTAConfig(t, dir, rootfs, pub)
	if code, msg := lightnvr(host, "-c", ini, "ota", "install", bundle); code != 0 {
		t.Fatalf("ota install: exit %d\n%s", code, msg)
	}
	for name, want := range map[string]string{"bootslot": "b", "upgrade_available": "1", "bootcount": "0"} {
		if got := strings.TrimSpace(run(t, root, "fw_printenv", "-c", filepath.Join(dir, "fw_env.config"), "-n", name)); got != want {
			t.Errorf("after install fw_printenv %s = %q, want %q", name, got, want)
		}
	}
	for vol, image := range map[string]string{"kernel_b": "uImage", "rootfs_b": "rootfs.squashfs"} {
		if !bytes.HasPrefix(readFile(t, vols[vol]), readFile(t, out, image)) {
			t.Errorf("volume %s does not start with %s after the install", vol, image)
		}
	}
	for _, vol := range []string{"kernel_a", "rootfs_a"} {
		if b := readFile(t, vols[vol]); bytes.IndexFunc(b, func(r rune) bool { return r != 0 }) >= 0 {
			t.Errorf("volume %s, of the running slot, was written", vol)
		}
	}
}

// checkVolumesHold fails for every image in out that a volume of ubi.img
// takes and that is larger than that volume, and for A/B volumes of unequal
// size.
func checkVolumesHold(t *testing.T, volumes []partition, out string) {
	t.Helper()
	sizes := map[string]int64{}
	for _, v := range volumes {
		sizes[v.name] = v.size
		st, err := os.Stat(filepath.Join(out, v.image))
		if v.image == "" || err != nil {
			t.Logf("  %-8s %6d KiB  %s (not in the bundle)", v.name, v.size>>10, orEmpty(v.image))
			continue
		}
		t.Logf("  %-8s %6d KiB  %s %d KiB, %d KiB free", v.name, v.size>>10, v.image, st.Size()>>10, (v.size-st.Size())>>10)
		if st.Size() > v.size {
			t.Errorf("%s is %d bytes, over the %d bytes of UBI volume %s by %d", v.image, st.Size(), v.size, v.name, st.Size()-v.size)
		}
	}
	for _, base := range []string{"kernel", "rootfs"} {
		if a, b := sizes[base+"_a"], sizes[base+"_b"]; a == 0 || a != b {
			t.Errorf("%s volumes: %d and %d bytes, want two equal slots", base, a, b)
		}
	}
}

// fileVolumes lays out the UBI volumes as files dir/dev/ubi0_N of their
// genimage sizes (the autoresized data volume left out) and the env
// partition as dir/dev/mtdN holding the factory env twice (mkenvimage, as
// post-image.sh makes it); it returns the volumes' files by name.
func fileVolumes(t *testing.T, root, dir string, volumes, parts []partition) map[string]string {
	t.Helper()
	board := filepath.Join(root, "board", boardName)
	envImg := filepath.Join(dir, "env.bin")
	run(t, root, "mkenvimage", "-r", "-s", "0x20000", "-o", envImg, filepath.Join(board, "uboot", "uboot-env-nand.txt"))
	env := readFile(t, envImg)
	files := map[string][]byte{filepath.Join("dev", mtdDevice(partIndex(t, parts, "env"))): append(append([]byte{}, env...), env...)}
	out := map[string]string{}
	for i, v := range volumes {
		if v.size == 0 {
			continue
		}
		name := filepath.Join("dev", fmt.Sprintf("ubi0_%d", i))
		files[name] = make([]byte, v.size)
		out[v.name] = filepath.Join(dir, name)
	}
	writeTree(t, dir, files)
	return out
}

// nandFlashImage is the whole-flash image of genimage-nand128m.cfg.
const nandFlashImage = "flash-nand128m.bin"

func partIndex(t *testing.T, parts []partition, name string) int {
	t.Helper()
	for i, p := range parts {
		if p.name == name {
			return i
		}
	}
	t.Fatalf("%s has no partition %s", nandFlashImage, name)
	return -1
}
