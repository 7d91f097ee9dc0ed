package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/ota"
	"lightnvr/pkg/ota/otatest"
	"lightnvr/pkg/testkit"
)

// TestOTAVerifyCommand builds a bundle with the CLI (keygen, pack) and checks
// that verify exits 0 on it and refuses, with a reason and a non-zero exit, a
// tampered copy, a wrong board and another key.
func TestOTAVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	cli := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"-c", filepath.Join(dir, "none.ini")}, args...), &out, &errb)
		return code, out.String() + errb.String()
	}
	priv, other := filepath.Join(dir, "dev.key"), filepath.Join(dir, "other.key")
	code, pub := cli("ota", "keygen", priv)
	if code != 0 {
		t.Fatalf("keygen: %d %s", code, pub)
	}
	pub = strings.TrimSpace(pub)
	if code, out := cli("ota", "keygen", other); code != 0 {
		t.Fatalf("keygen: %s", out)
	}
	rootfs := filepath.Join(dir, "rootfs.squashfs")
	if err := os.WriteFile(rootfs, bytes.Repeat([]byte("squashfs"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "update.bundle")
	if code, out := cli("ota", "pack", "-key", priv, "-version", "1.3.0", "-board", "ingenic-a1-nor", "-o", bundle, "rootfs="+rootfs); code != 0 {
		t.Fatalf("pack: %s", out)
	}
	code, out := cli("ota", "verify", "-pubkey", pub, "-board", "ingenic-a1-nor", bundle)
	if code != 0 || !strings.Contains(out, "ok: version 1.3.0") {
		t.Fatalf("verify good bundle: exit %d\n%s", code, out)
	}
	data, _ := os.ReadFile(bundle)
	data[len(data)-1] ^= 1
	tampered := filepath.Join(dir, "tampered.bundle")
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	otherPack := filepath.Join(dir, "other.bundle")
	if code, out := cli("ota", "pack", "-key", other, "-version", "1.3.0", "-board", "ingenic-a1-nor", "-o", otherPack, "rootfs="+rootfs); code != 0 {
		t.Fatalf("pack: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-pubkey", pub, tampered}, "sha256 mismatch"},
		{[]string{"-pubkey", pub, "-board", "ingenic-t31", bundle}, "wrong board"},
		{[]string{"-pubkey", pub, otherPack}, "unknown key"},
	} {
		code, out := cli(append([]string{"ota", "verify"}, c.args...)...)
		if code == 0 || !strings.Contains(out, "bundle refused: ") || !strings.Contains(out, c.want) {
			t.Errorf("verify %v: exit %d, want a refusal mentioning %q:\n%s", c.args, code, c.want, out)
		}
	}
}

// otaTrialWindow is [ota] healthy_for in the daemon tests below.
const otaTrialWindow = 2 * time.Second

// TestDaemonConfirmsUpdateOnceHealthy runs the real daemon booted from slot b
// with an update on trial (upgrade_available=1, bootcount=1) in a file-backed
// U-Boot env: once /api/health has been good for healthy_for, the daemon
// clears upgrade_available and bootcount.
func TestDaemonConfirmsUpdateOnceHealthy(t *testing.T) {
	d, env := otaTrialDaemon(t)
	p := d.Start()
	testkit.WaitFor(t, 60*time.Second, "the slot marked good", func() bool {
		e := readEnv(t, env)
		return e.Get("upgrade_available") == "0" && e.Get("bootcount") == "0"
	})
	if e := readEnv(t, env); e.Get("bootslot") != "b" {
		t.Errorf("bootslot = %q after mark-good, want b (the running slot)", e.Get("bootslot"))
	}
	// The daemon logs the mark-good after the write the test saw, so the
	// line may come a moment later.
	testkit.WaitFor(t, 10*time.Second, "the mark-good logged", func() bool {
		return strings.Contains(p.Log.String(), "running slot marked good")
	})
}

// TestDaemonKeepsUnhealthyUpdateOnTrial: the same update on trial, but the
// data disk is in storage emergency from the start (every threshold above the
// free space), so /api/health says unhealthy: however long that lasts, the
// slot is not marked good, and U-Boot's boot counter keeps the rollback armed.
func TestDaemonKeepsUnhealthyUpdateOnTrial(t *testing.T) {
	d, env := otaTrialDaemon(t)
	d.Set("storage", "pressure_warning_pct", "99.999")
	d.Set("storage", "pressure_critical_pct", "99.998")
	d.Set("storage", "pressure_emergency_pct", "99.997")
	p := d.Start()
	testkit.WaitFor(t, 30*time.Second, "the trial watch to start", func() bool {
		return strings.Contains(p.Log.String(), "confirming once healthy")
	})
	if healthy := publicHealthy(t, d); healthy {
		t.Fatalf("/api/health says healthy with the disk in emergency; the test needs an unhealthy daemon")
	}
	// Many times the window, checked every quarter of it: an unhealthy
	// verdict ignored would have confirmed the slot long before the end.
	deadline := time.Now().Add(5 * otaTrialWindow)
	for time.Now().Before(deadline) {
		if e := readEnv(t, env); e.Get("upgrade_available") != "1" || e.Get("bootcount") != "1" {
			t.Fatalf("an unhealthy daemon marked its slot good: upgrade_available=%s bootcount=%s",
				e.Get("upgrade_available"), e.Get("bootcount"))
		}
		time.Sleep(otaTrialWindow / 4)
	}
	if publicHealthy(t, d) {
		t.Fatalf("/api/health turned healthy during the check")
	}
}

// otaTrialDaemon is a daemon whose [ota] points at files: a redundant env
// holding an update on trial in slot b, slot partitions, and a kernel
// command line saying slot b booted.
func otaTrialDaemon(t *testing.T) (*testkit.Daemon, *ota.EnvStore) {
	t.Helper()
	if testing.Short() {
		t.Skip("daemon test")
	}
	dir := t.TempDir()
	env := otatest.Files(t, dir, map[string][]byte{
		"env1": make([]byte, 0x4000), "env2": make([]byte, 0x4000),
		"rootfs_a": make([]byte, 4096), "rootfs_b": make([]byte, 4096),
		"cmdline":       []byte("console=ttyS1 lightnvr.slot=b\n"),
		"fw_env.config": []byte(filepath.Join(dir, "env1") + " 0x0 0x4000\n" + filepath.Join(dir, "env2") + " 0x0 0x4000\n"),
	}, "bootslot=b", "upgrade_available=1", "bootcount=1", "bootlimit=3")
	d := testkit.NewDaemon(t, daemonTestPassword)
	for key, value := range map[string]string{
		"env_config":   filepath.Join(dir, "fw_env.config"),
		"board":        "test-board",
		"slot_a":       "rootfs=" + filepath.Join(dir, "rootfs_a"),
		"slot_b":       "rootfs=" + filepath.Join(dir, "rootfs_b"),
		"cmdline_file": filepath.Join(dir, "cmdline"),
		"healthy_for":  otaTrialWindow.String(),
	} {
		d.Set("ota", key, value)
	}
	return d, env
}

func readEnv(t *testing.T, s *ota.EnvStore) *ota.Env {
	t.Helper()
	e, err := s.Read()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// publicHealthy is /api/health's verdict as a monitor sees it.
func publicHealthy(t *testing.T, d *testkit.Daemon) bool {
	t.Helper()
	resp, err := http.Get(d.Base + "/api/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct {
		Healthy bool `json:"healthy"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("/api/health: %v", err)
	}
	return h.Healthy
}

// POST /api/system/reboot (after an update, say) stops the daemon cleanly
// with [general] reboot_exit_code, the status on which the appliance's
// supervisor, running as root, reboots the board; without a code nothing
// would reboot it, and the route says so.
func TestRebootEndsWithTheSupervisorsStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("daemon test")
	}
	d := testkit.NewDaemon(t, daemonTestPassword)
	p := start(t, d)
	if code, b := p.call("POST", "/api/system/reboot", nil); code != http.StatusServiceUnavailable {
		t.Fatalf("reboot without reboot_exit_code: %d %s, want 503", code, b)
	}
	stopDaemon(t, p.DaemonProc)

	d.Set("general", "reboot_exit_code", "75")
	p = start(t, d)
	if code, b := p.call("POST", "/api/system/reboot", nil); code/100 != 2 {
		t.Fatalf("reboot: %d %s", code, b)
	}
	var exit *exec.ExitError
	if err := p.Wait(t, 30*time.Second); !errors.As(err, &exit) || exit.ExitCode() != 75 {
		t.Fatalf("exit after POST /api/system/reboot: %v, want status 75", err)
	}
	if strings.Contains(p.Log.String(), "lightnvr serve:") {
		t.Errorf("a requested reboot was reported as a failure:\n%s", p.Log.String())
	}
}
