package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"lightnvr/pkg/ota/otatest"
	"lightnvr/pkg/testkit"
)

// otaDevice is a file-backed A/B layout for a daemon: slot a runs, and an
// earlier update to 1.9.0 in slot b was rolled back.
type otaDevice struct {
	dir string
	key ed25519.PrivateKey
}

func newOTADevice(t *testing.T, d *testkit.Daemon) *otaDevice {
	t.Helper()
	dir := t.TempDir()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otatest.Files(t, dir, map[string][]byte{
		"env": make([]byte, 0x4000), "rootfs_a": make([]byte, 4<<20), "rootfs_b": make([]byte, 4<<20),
		"cmdline":       []byte("lightnvr.slot=a\n"),
		"keys":          []byte(base64.StdEncoding.EncodeToString(pub) + "\n"),
		"fw_env.config": []byte(filepath.Join(dir, "env") + " 0x0 0x4000\n"),
	}, "bootslot=a", "upgrade_available=0", "bootcount=0", "bootlimit=3",
		"ota_target=b", "ota_version_a=1.0.0", "ota_version_b=1.9.0")
	for key, value := range map[string]string{
		"env_config": filepath.Join(dir, "fw_env.config"), "board": "test-board", "keys_file": filepath.Join(dir, "keys"),
		"slot_a": "rootfs=" + filepath.Join(dir, "rootfs_a"), "slot_b": "rootfs=" + filepath.Join(dir, "rootfs_b"),
		"cmdline_file": filepath.Join(dir, "cmdline"),
	} {
		d.Set("ota", key, value)
	}
	return &otaDevice{dir: dir, key: key}
}

// bundle signs a 2 MiB random rootfs image as version.
func (o *otaDevice) bundle(t *testing.T, version string) []byte {
	b, _ := otatest.Bundle(t, o.key, "test-board", version, 2<<20)
	return b
}

// stalledServer serves body in two halves, the second once release is
// closed, so the install is seen running.
func stalledServer(t *testing.T, body []byte, release chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
			w.Write(body[len(body)/2:])
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/lightnvr-update.bundle"
}

// The Firmware update section of the System page against a daemon with a
// file-backed A/B layout: both slots and the earlier rollback are shown; a
// good bundle uploads with progress and is installed; a tampered one shows
// the refusal; a bundle pulled from a URL shows the install's progress and
// is installed.
func TestOTAUI(t *testing.T) {
	d := testkit.NewDaemon(t, adminPassword)
	dev := newOTADevice(t, d)
	d.Set("general", "reboot_exit_code", "75") // as the appliance's supervisor has it
	proc := d.Start()
	b := testkit.StartChromium(t, 1280, 900)
	u := newUI(t, d.Base, b)
	u.p.IgnoreErrors(`status of 422 .*/api/system/ota`)
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")
	u.open("#/system")

	slots := `[data-testid=ota-slots] tbody`
	want := "A1.0.0running, next bootB1.9.0rolled-back"
	if got := u.waitText(slots, want, 15*time.Second); got != want {
		t.Fatalf("slots: %q, want %q", got, want)
	}
	want = "Version 1.9.0 failed and was rolled back."
	if got := u.waitText(`[data-testid=ota-rolled-back]`, want, 5*time.Second); got != want {
		t.Fatalf("rollback warning: %q, want %q", got, want)
	}

	// The upload's progress bar is gone once it finished: remember the
	// furthest it showed.
	if _, err := testkit.Eval[bool](u.p, 5*time.Second, `(() => { window.otaSent = 0;
		new MutationObserver(() => { const p = document.querySelector('[data-testid=ota-upload]');
			if (p) window.otaSent = Math.max(window.otaSent, Number(p.value)); })
		.observe(document.body, {subtree: true, childList: true, attributes: true}); return true; })()`); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good.bundle")
	if err := os.WriteFile(good, dev.bundle(t, "2.0.0"), 0o600); err != nil {
		t.Fatal(err)
	}
	// result waits for the outcome of an install to start with want.
	result := func(what, want string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && !strings.HasPrefix(got, want); time.Sleep(100 * time.Millisecond) {
			got, _ = testkit.Eval[string](u.p, 5*time.Second, `(document.querySelector('[data-testid=ota-result]')||{}).textContent||''`)
		}
		if !strings.HasPrefix(got, want) {
			t.Fatalf("%s: %q, want %q", what, got, want)
		}
	}
	install := func(file, want string) {
		t.Helper()
		u.do("install "+file, 10*time.Second, chromedp.SetUploadFiles(`[data-testid=ota] input[type=file]`, []string{file}),
			chromedp.Click(`//section[@data-testid="ota"]//button[text()="Install"]`))
		result("install "+file, want)
	}
	install(good, "Installed: reboot to start version 2.0.0.")
	if sent, err := testkit.Eval[float64](u.p, 5*time.Second, `window.otaSent`); err != nil || sent != 1 {
		t.Fatalf("upload progress reached %v (%v), want 1", sent, err)
	}
	want = "A1.0.0runningB2.0.0next boot, reboot-pending"
	if got := u.waitText(slots, want, 15*time.Second); got != want {
		t.Fatalf("slots after the install: %q, want %q", got, want)
	}

	bad := dev.bundle(t, "2.0.1")
	bad[len(bad)-1] ^= 1
	tampered := filepath.Join(t.TempDir(), "tampered.bundle")
	if err := os.WriteFile(tampered, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	install(tampered, `bundle refused: sha256 mismatch for image "rootfs"`)

	release := make(chan struct{})
	url := stalledServer(t, dev.bundle(t, "2.1.0"), release)
	u.do("pull "+url, 10*time.Second, chromedp.SendKeys(`[data-testid=ota] input[type=url]`, url),
		chromedp.Click(`//section[@data-testid="ota"]//button[text()="Download and install"]`))
	// Half the bundle has arrived: the install's progress shows part of the image written.
	u.do("install progress", 30*time.Second, chromedp.Poll[chromedp.Void](`(p => p && p.value > 0 && p.value < p.max)(document.querySelector('[data-testid=ota-install]'))`))
	close(release)
	result("pull "+url, "Installed: reboot to start version 2.1.0.")
	u.p.Screenshot(t, "ota-installed")
	u.checkClean("system")
	// Reboot now: the daemon stops with the status its supervisor reboots on.
	u.do("reboot", 10*time.Second, chromedp.Click(`[data-testid=ota-reboot]`))
	result("reboot", "Rebooting")
	var exit *exec.ExitError
	if err := proc.Wait(t, 30*time.Second); !errors.As(err, &exit) || exit.ExitCode() != 75 {
		t.Fatalf("lightnvr after Reboot now: %v, want exit status 75", err)
	}

	// Without [ota] the section gives the API's reason instead of the controls.
	plain := testkit.NewDaemon(t, adminPassword)
	plain.Start()
	// A browser of its own: cookies are per host, not per port.
	u = newUI(t, plain.Base, testkit.StartChromium(t, 1280, 900))
	u.login("admin", adminPassword)
	u.waitLoggedIn("admin")
	u.open("#/system")
	want = "OTA is not configured ([ota] env_config is empty)"
	if got := u.waitText(`[data-testid=ota-off]`, want, 15*time.Second); got != want {
		t.Fatalf("without [ota]: %q, want %q", got, want)
	}
	if n, err := testkit.Eval[int](u.p, 5*time.Second, `document.querySelectorAll('[data-testid=ota] input, [data-testid=ota] button').length`); err != nil || n != 0 {
		t.Fatalf("without [ota] the section has %d controls (%v)", n, err)
	}
	u.checkClean("system without OTA")
}
