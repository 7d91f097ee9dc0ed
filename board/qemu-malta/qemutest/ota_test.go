package qemutest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/ota"
	"lightnvr/pkg/testkit"
)

// The watchdog of the A/B machine runs from boot, as one a boot loader starts
// would (softdog's soft_active_on_boot): lightnvr must open the device within
// wdMargin seconds of the kernel loading softdog, or the board resets. A good
// system opens it once its API is up: after about 20 s on a quiet machine,
// near 60 s on a loaded one. One whose lightnvr never starts is reset.
const (
	wdMargin = 90
	// healthyFor shortens [ota] healthy_minutes for the test.
	healthyFor = 10 * time.Second
)

// installCuts is how many installs the test cuts short: 1, or
// LIGHTNVR_QEMU_POWER_CUTS (each costs a boot).
func installCuts() int {
	n := 1
	if v := os.Getenv("LIGHTNVR_QEMU_POWER_CUTS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 0 {
			n = 1
		}
	}
	return n
}

// otaMachine is an A/B board booted from fresh disks.
type otaMachine struct {
	*Machine
	img    Images
	opt    Options
	boots  int           // qemu launches so far
	env    *ota.EnvStore // the env disk, read from the host
	base   string
	client *http.Client
}

// TestOTA updates the qemu board over its API: a tampered bundle is refused
// with the system untouched; a bundle whose lightnvr exits at start boots once
// on trial, is reset by the watchdog and rolled back by the boot counter, and
// the daemon names the failed version; a good bundle boots on slot B and is
// marked good after the health window; a downgrade below its floor is refused.
func TestOTA(t *testing.T) {
	dir := os.Getenv(imagesEnv)
	if dir == "" {
		t.Skipf("%s not set: run `make qemu-test`", imagesEnv)
	}
	need(t, "qemu-system-mipsel", "qemu-system-mips")
	need(t, "mkfs.ext4", "e2fsprogs")
	good := filepath.Join(dir, "qemu-malta", "ota", "good", "lightnvr-update.bundle")
	broken := filepath.Join(dir, "qemu-malta", "ota", "broken", "lightnvr-update.bundle")
	// Each further power cut is one more boot of slot A.
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute+time.Duration(installCuts()-1)*45*time.Second)
	defer cancel()

	m := bootAB(t, dir)
	start := time.Now()

	// Slot A, the factory version X.
	m.waitBoot(ctx, t, "a")
	t.Logf("slot A: qemu launch to healthy in %.1f s", time.Since(start).Seconds())
	consoleLogin(ctx, t, m.Machine)
	versionX := m.release(ctx, t)
	// Takes effect at the next start of the daemon, i.e. on the updated slot.
	m.run(ctx, t, fmt.Sprintf(`sed -i '/^\[ota\]/a healthy_for = %s' /etc/lightnvr/lightnvr.ini`, healthyFor))
	m.loginAdmin(ctx, t)

	// 1. A tampered bundle (one image byte flipped) is refused, the env untouched.
	tampered := flipByte(t, good)
	before := m.envDump(t)
	if code, body := m.upload(t, tampered); code != http.StatusUnprocessableEntity || !strings.Contains(body, "sha256 mismatch") {
		t.Errorf("tampered bundle: %d %s, want 422 sha256 mismatch", code, body)
	}
	if after := m.envDump(t); after != before {
		t.Errorf("a refused bundle changed the env:\nbefore %s\nafter  %s", before, after)
	}

	// 2. A bundle whose lightnvr exits at start: one trial boot on slot B,
	// the watchdog resets it, the boot counter goes back to slot A.
	m.install(t, broken)
	m.wantEnv(t, "bootslot", "b", "upgrade_available", "1", "bootcount", "0")
	rebootAt := time.Now()
	m.Send("reboot\n")
	m.expect(ctx, t, `initramfs: booting slot b`)
	trialAt := time.Now()
	// Bounded: without the fallback the board would cycle on slot B until ctx ends.
	rollback, cancelRollback := context.WithTimeout(ctx, 3*time.Minute)
	m.expect(rollback, t, `bootsel: slot b failed 2 boots \(bootlimit 1\): altbootcmd, back to slot a`)
	cancelRollback()
	t.Logf("broken slot B: booted %.1f s after reboot, reset by the watchdog %.1f s later", trialAt.Sub(rebootAt).Seconds(), time.Since(trialAt).Seconds())
	resetAt := time.Now()
	m.waitBoot(ctx, t, "a")
	t.Logf("slot A after the rollback: healthy %.1f s after the reset", time.Since(resetAt).Seconds())
	m.wantEnv(t, "bootslot", "a", "upgrade_available", "0", "bootcount", "0")
	consoleLogin(ctx, t, m.Machine)
	if v := m.release(ctx, t); v != versionX {
		t.Errorf("after the rollback the system is %s, want the old %s", v, versionX)
	}
	m.loginAdmin(ctx, t)
	st := m.status(t)
	if st.Running != "a" || st.Result != "rolled-back" || st.ResultVersion != versionX+".1" {
		t.Errorf("after the rollback /api/system/ota/status: running %s, result %q of %q; want a, rolled-back of %s.1", st.Running, st.Result, st.ResultVersion, versionX)
	}
	if out := m.run(ctx, t, "lightnvr ota status"); !strings.Contains(out, "last update "+versionX+".1 rolled-back") {
		t.Errorf("lightnvr ota status does not name the failed version %s.1:\n%s", versionX, out)
	}

	// 3. Power cuts at random points of an install leave slot A booting.
	seed := time.Now().UnixNano()
	t.Logf("power cut seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	for range installCuts() {
		m.powerCutDuringInstall(ctx, t, good, rng)
		m.loginAdmin(ctx, t)
	}

	// 4. A good bundle: slot B runs version Y and is marked good once healthy.
	m.install(t, good)
	rebootAt = time.Now()
	// As the UI's Reboot now: lightnvr exits with the status on which its
	// supervisor, running as root, reboots the board.
	if code, body := m.post(t, "/api/system/reboot"); code != http.StatusOK {
		t.Fatalf("POST /api/system/reboot: %d %s", code, body)
	}
	rebooting, cancelReboot := context.WithTimeout(ctx, 3*time.Minute)
	m.waitBoot(rebooting, t, "b")
	cancelReboot()
	t.Logf("slot B: healthy %.1f s after reboot", time.Since(rebootAt).Seconds())
	healthyAt := time.Now()
	consoleLogin(ctx, t, m.Machine)
	st = m.waitMarkedGood(ctx, t)
	t.Logf("slot B marked good %.1f s after it was healthy (healthy_for %s)", time.Since(healthyAt).Seconds(), healthyFor)
	if st.Running != "b" || st.BootCount != 0 || st.Result != "good" || st.Versions["b"] != versionX+".2" {
		t.Errorf("after the update: %+v, want running b, bootcount 0, result good, b=%s.2", st, versionX)
	}
	m.wantEnv(t, "bootslot", "b", "upgrade_available", "0", "bootcount", "0")
	if v := m.release(ctx, t); v != versionX+".2" {
		t.Errorf("slot B runs %s, want %s.2", v, versionX)
	}
	out := m.run(ctx, t, "lightnvr diag")
	if !regexp.MustCompile(`slots\s*:\s*running b;.*last update `+regexp.QuoteMeta(versionX+".2")+` good`).MatchString(out) ||
		!regexp.MustCompile(`bootcount\s*:\s*0 \(limit 1, upgrade_available false\)`).MatchString(out) {
		t.Errorf("lightnvr diag does not show slot B confirmed:\n%s", out)
	}

	// 5. Going back below the running version's floor is refused.
	before = m.envDump(t)
	if code, body := m.upload(t, broken); code != http.StatusUnprocessableEntity || !strings.Contains(body, "downgrade") {
		t.Errorf("downgrade bundle: %d %s, want 422 downgrade", code, body)
	}
	if after := m.envDump(t); after != before {
		t.Errorf("a refused downgrade changed the env:\nbefore %s\nafter  %s", before, after)
	}
	m.Send("poweroff\n")
	if err := m.WaitExit(ctx); err != nil {
		t.Fatalf("poweroff: %v", err)
	}
}

// bootAB boots an A/B machine: slot A holds the firmware, slot B is blank,
// the env disk holds the board's factory env and the data disk is new.
func bootAB(t *testing.T, dir string) *otaMachine {
	t.Helper()
	tmp := t.TempDir()
	img := Images{
		Kernel:    filepath.Join(dir, "qemu-malta", "vmlinuz"),
		Initramfs: filepath.Join(dir, "qemu-malta", "initramfs.cpio.gz"),
		RootFS:    filepath.Join(tmp, "slot-a.img"),
		SlotB:     filepath.Join(tmp, "slot-b.img"),
		EnvDisk:   filepath.Join(tmp, "env.img"),
		DataDisk:  filepath.Join(tmp, "data.img"),
	}
	copyFile(t, filepath.Join(dir, "firmware", "qemu-malta", "rootfs.squashfs"), img.RootFS)
	// Sparse: a slot holds the whole root filesystem, the env two 64 KiB copies.
	for f, size := range map[string]int64{img.RootFS: 64 << 20, img.SlotB: 64 << 20, img.EnvDisk: 128 << 10, img.DataDisk: 1 << 30} {
		sizeFile(t, f, size)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "nvrdata", "-m", "1", "-i", "1048576", img.DataDisk).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	env := factoryEnv(t, img.EnvDisk)

	webPort := testkit.FreePort(t)
	m := &otaMachine{img: img, env: env, base: fmt.Sprintf("http://127.0.0.1:%d", webPort), client: sessionClient(5 * time.Minute),
		opt: Options{MemoryMB: 160, Forward: map[int]int{webPort: 8080}, Reboot: true,
			Append: fmt.Sprintf("softdog.soft_active_on_boot=1 softdog.soft_margin=%d", wdMargin)}}
	m.powerOn(t)
	return m
}

// powerOn starts qemu on the machine's disks (again after a power cut).
func (m *otaMachine) powerOn(t *testing.T) {
	t.Helper()
	suffix := "-ota"
	if m.boots > 0 {
		suffix = fmt.Sprintf("-ota-%d", m.boots)
	}
	m.boots++
	m.Machine = bootForTest(t, m.img, m.opt, suffix)
}

// powerCutDuringInstall uploads bundle and kills qemu once a random share
// of its image has reached the inactive slot; the machine must then boot
// the old slot with the env as it was. It returns logged in on the console.
// A cut during the env write itself leaves a torn copy that fails its CRC,
// so the other copy stays in force (pkg/ota's redundant-env rule).
func (m *otaMachine) powerCutDuringInstall(ctx context.Context, t *testing.T, bundle string, rng *rand.Rand) {
	t.Helper()
	before := m.envDump(t)
	// Up to 90% of the image: the rest and the read-back of the whole image
	// come before the env write, so the cut lands in the install.
	cutAt := 0.05 + 0.85*rng.Float64()
	go m.postBundle(bundle) // fails when qemu dies; its answer is not needed
	var written, total int64
	for total == 0 || float64(written) < cutAt*float64(total) {
		select {
		case <-ctx.Done():
			t.Fatalf("install never reached %.0f%%: %d of %d bytes", cutAt*100, written, total)
		case <-time.After(100 * time.Millisecond):
		}
		var st struct {
			Upload struct{ Written, Total int64 } `json:"upload"`
		}
		if code, body := get(t, m.client, m.base+"/api/system/ota/status"); code == http.StatusOK {
			_ = json.Unmarshal([]byte(body), &st)
		}
		written, total = st.Upload.Written, st.Upload.Total
	}
	_ = m.cmd.Process.Kill()
	<-m.Exited()
	t.Logf("power cut at %d of %d image bytes (%.0f%%)", written, total, 100*float64(written)/float64(total))
	if after := m.envDump(t); after != before {
		t.Errorf("a power cut during the install changed the env:\nbefore %s\nafter  %s", before, after)
	}
	on := time.Now()
	m.powerOn(t)
	m.waitBoot(ctx, t, "a")
	t.Logf("slot A after the power cut: qemu launch to healthy in %.1f s", time.Since(on).Seconds())
	consoleLogin(ctx, t, m.Machine)
}

// factoryEnv writes board/qemu-malta/env.txt into the env disk at the
// offsets of the board's fw_env.config, as mkenvimage would.
func factoryEnv(t *testing.T, disk string) *ota.EnvStore {
	t.Helper()
	board := filepath.Join(testkit.RepoRoot(t), "board", "qemu-malta")
	conf, err := os.ReadFile(filepath.Join(board, "rootfs-overlay", "etc", "fw_env.config"))
	if err != nil {
		t.Fatal(err)
	}
	hostConf := filepath.Join(filepath.Dir(disk), "fw_env.config")
	if err := os.WriteFile(hostConf, bytes.ReplaceAll(conf, []byte("/dev/vdd"), []byte(disk)), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := ota.ParseEnvConfig(hostConf)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(board, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			vars = append(vars, l)
		}
	}
	if err := store.Create(vars...); err != nil {
		t.Fatal(err)
	}
	return store
}

func sizeFile(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		err = f.Truncate(size)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("image missing (make qemu-test builds it): %v", err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipByte copies a bundle with one byte of its last image changed.
func flipByte(t *testing.T, bundle string) string {
	t.Helper()
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatalf("bundle missing (make qemu-test builds it): %v", err)
	}
	b[len(b)-4096] ^= 0x40
	out := filepath.Join(t.TempDir(), "tampered.bundle")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitBoot waits for the initramfs to boot slot and the daemon to be healthy.
func (m *otaMachine) waitBoot(ctx context.Context, t *testing.T, slot string) {
	t.Helper()
	m.expect(ctx, t, `initramfs: booting slot `+slot)
	booted := m.Mark()
	waitOK(ctx, t, m.Machine, m.base+"/api/health")
	// A slot reset before its daemon answered boots the other slot, whose
	// daemon answers instead: say so here, with what the reset slot did,
	// rather than let the checks after this fail on the wrong slot.
	since := m.ConsoleSince(booted)
	if !strings.Contains(since, "initramfs: booting slot ") {
		return
	}
	t.Errorf("slot %s was reset before its daemon answered; the console from its boot on:\n%s", slot, tailString(since, 6000))
	consoleLogin(ctx, t, m.Machine)
	// The data disk keeps the reset slot's daemon log: its start-up is there.
	out, _, err := m.Run(ctx, `grep -e 'msg=starting' -e 'msg=ready' -e 'phase' -e 'watchdog' -e 'level=WARN' -e 'level=ERROR' /data/log/lightnvr.log | tail -n 40`)
	t.Fatalf("the daemon log's start-ups, watchdog lines, warnings and errors (%v):\n%s", err, out)
}

func (m *otaMachine) expect(ctx context.Context, t *testing.T, re string) {
	t.Helper()
	if _, err := m.Expect(ctx, regexp.MustCompile(re)); err != nil {
		t.Fatal(err)
	}
}

// run runs a console command that must succeed and returns its output.
func (m *otaMachine) run(ctx context.Context, t *testing.T, cmd string) string {
	t.Helper()
	out, rc, err := m.Run(ctx, cmd)
	if err != nil || rc != 0 {
		t.Fatalf("%s: rc %d, %v:\n%s", cmd, rc, err, out)
	}
	return strings.ReplaceAll(out, "\r", "")
}

// release is the running root filesystem's VERSION (/etc/lightnvr-release).
func (m *otaMachine) release(ctx context.Context, t *testing.T) string {
	t.Helper()
	// The console may echo the typed line first: match the answer's own line.
	out := m.run(ctx, t, "grep '^VERSION=' /etc/lightnvr-release")
	v := regexp.MustCompile(`(?m)^VERSION=(\S+)$`).FindStringSubmatch(out)
	if v == nil {
		t.Fatalf("no VERSION in /etc/lightnvr-release:\n%s", out)
	}
	return v[1]
}

// loginAdmin signs in with the first-boot admin password from the data disk.
func (m *otaMachine) loginAdmin(ctx context.Context, t *testing.T) {
	t.Helper()
	user, password := initialAdmin(ctx, t, m.Machine)
	login(t, m.client, m.base, user, password)
}

// upload posts a bundle to the API and returns the answer.
func (m *otaMachine) upload(t *testing.T, bundle string) (int, string) {
	t.Helper()
	code, body, err := m.postBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	return code, body
}

func (m *otaMachine) postBundle(bundle string) (int, string, error) {
	f, err := os.Open(bundle)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, "", err
	}
	req, _ := http.NewRequest("POST", m.base+"/api/system/ota", f)
	req.ContentLength = fi.Size()
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := m.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("POST /api/system/ota: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// post sends an empty POST to the API and returns the answer.
func (m *otaMachine) post(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", m.base+path, nil)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// install uploads a bundle that must be accepted.
func (m *otaMachine) install(t *testing.T, bundle string) {
	t.Helper()
	start := time.Now()
	code, body := m.upload(t, bundle)
	if code != http.StatusOK {
		t.Fatalf("install %s: %d %s", filepath.Base(filepath.Dir(bundle)), code, body)
	}
	fi, _ := os.Stat(bundle)
	t.Logf("install of %s (%d bytes) through POST /api/system/ota: %.1f s", filepath.Base(filepath.Dir(bundle)), fi.Size(), time.Since(start).Seconds())
}

func (m *otaMachine) status(t *testing.T) *ota.Status {
	t.Helper()
	code, body := get(t, m.client, m.base+"/api/system/ota/status")
	var st ota.Status
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET /api/system/ota/status: %d %s", code, body)
	}
	return &st
}

// waitMarkedGood polls the status until the daemon has confirmed the slot.
func (m *otaMachine) waitMarkedGood(ctx context.Context, t *testing.T) *ota.Status {
	t.Helper()
	m.loginAdmin(ctx, t)
	const wait = healthyFor + 2*time.Minute
	deadline := time.Now().Add(wait)
	for {
		st := m.status(t)
		if !st.Pending {
			return st
		}
		if time.Now().After(deadline) {
			log, _, _ := m.Run(ctx, `grep -e 'ota: ' -e 'health: ' /data/log/lightnvr.log | tail -n 10`)
			t.Fatalf("slot B still on trial %s after it came up: %+v\n%s", wait, st, log)
		}
		time.Sleep(2 * time.Second)
	}
}

// envDump is the env as U-Boot would read it, for before/after comparisons.
func (m *otaMachine) envDump(t *testing.T) string {
	t.Helper()
	env, err := m.env.Read()
	if err != nil {
		t.Fatalf("read the env disk: %v", err)
	}
	var b strings.Builder
	for _, k := range []string{"bootslot", "upgrade_available", "bootcount", "ota_target", "ota_version_a", "ota_version_b"} {
		fmt.Fprintf(&b, "%s=%s ", k, env.Get(k))
	}
	return b.String()
}

func (m *otaMachine) wantEnv(t *testing.T, kv ...string) {
	t.Helper()
	env, err := m.env.Read()
	if err != nil {
		t.Fatalf("read the env disk: %v", err)
	}
	for i := 0; i < len(kv); i += 2 {
		if got := env.Get(kv[i]); got != kv[i+1] {
			t.Errorf("env disk: %s=%q, want %q (%s)", kv[i], got, kv[i+1], m.envDump(t))
		}
	}
}
