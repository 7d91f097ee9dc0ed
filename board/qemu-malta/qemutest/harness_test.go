package qemutest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// applianceImages returns the images `make qemu-test` built (it points
// LIGHTNVR_QEMU_IMAGES at them); the test is skipped when that is unset.
func applianceImages(t *testing.T) Images {
	t.Helper()
	dir := os.Getenv(imagesEnv)
	if dir == "" {
		t.Skipf("%s not set: run `make qemu-test`", imagesEnv)
	}
	need(t, "qemu-system-mipsel", "qemu-system-mips")
	img := Images{
		Kernel:    filepath.Join(dir, "qemu-malta", "vmlinuz"),
		Initramfs: filepath.Join(dir, "qemu-malta", "initramfs.cpio.gz"),
		RootFS:    filepath.Join(dir, "firmware", "qemu-malta", "rootfs.squashfs"),
		DataDisk:  filepath.Join(dir, "qemu-malta", "data.img"),
	}
	for _, f := range []string{img.Kernel, img.Initramfs, img.RootFS, img.DataDisk} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("image missing (make qemu-test builds them): %v", err)
		}
	}
	return img
}

// consoleLogin logs in as root on the serial console's getty and returns
// the login banner (diag --brief) printed before the shell's prompt.
func consoleLogin(ctx context.Context, t *testing.T, m *Machine) string {
	t.Helper()
	if _, err := m.Expect(ctx, regexp.MustCompile(`login: `)); err != nil {
		t.Fatal(err)
	}
	m.Send("root\n")
	if _, err := m.Expect(ctx, regexp.MustCompile(`Password: `)); err != nil {
		t.Fatal(err)
	}
	m.Send(envOr("LIGHTNVR_QEMU_ROOT_PASSWORD", "lightnvr") + "\n")
	banner, err := m.Expect(ctx, regexp.MustCompile(`(?s)^(.*?)Full report: lightnvr diag.*?# `))
	if err != nil {
		t.Fatal(err)
	}
	return banner[1]
}

// initialAdmin reads the first-boot admin's "user:password" off the data
// disk over the console (the shell must be at a prompt). The prefix keeps the
// typed command's echo from matching.
func initialAdmin(ctx context.Context, t *testing.T, m *Machine) (user, password string) {
	t.Helper()
	out, rc, err := m.Run(ctx, `echo "cred=$(cat /data/db/initial-admin-password)"`)
	cred := regexp.MustCompile(`cred=(\w+):(\S+)`).FindStringSubmatch(out)
	if err != nil || rc != 0 || cred == nil {
		t.Fatalf("initial admin password on the console: rc %d, %v: %s", rc, err, out)
	}
	return cred[1], cred[2]
}

// apiRecording is a recordings row as the API lists it.
type apiRecording struct {
	ID         int64  `json:"id"`
	Stream     string `json:"stream"`
	FilePath   string `json:"file_path"`
	StartUnix  int64  `json:"start_time_unix"`
	EndUnix    int64  `json:"end_time_unix"`
	IsComplete bool   `json:"is_complete"`
}

// listRecordings lists the streams' recordings, oldest first.
func listRecordings(t *testing.T, client *http.Client, base string, streams []string) []apiRecording {
	t.Helper()
	code, body := get(t, client, base+"/api/recordings?stream="+strings.Join(streams, ",")+"&sort=start_time&order=asc&limit=1000")
	if code != http.StatusOK {
		t.Fatalf("GET /api/recordings: %d %s", code, body)
	}
	var list struct {
		Recordings []apiRecording `json:"recordings"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET /api/recordings: %v: %s", err, body)
	}
	return list.Recordings
}

// download saves the answer to GET url, which must be 200, in a new file
// and returns the file and its size.
func download(t *testing.T, client *http.Client, url string) (string, int64) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	out, err := os.CreateTemp(t.TempDir(), "download-*.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	n, err := io.Copy(out, resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return out.Name(), n
}
