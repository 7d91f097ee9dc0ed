package qemutest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The appliance test is run by `make qemu-test`, which builds the images and
// points LIGHTNVR_QEMU_IMAGES at them; a plain `go test ./...` skips it.
const imagesEnv = "LIGHTNVR_QEMU_IMAGES"

// The sections `lightnvr diag` must print (see pkg/diag).
var diagSections = []string{"version", "uptime", "memory", "storage", "network", "go2rtc", "streams", "recordings", "database", "logs"}

func TestAppliance(t *testing.T) {
	img := applianceImages(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	src := startRTSPSource(t)

	webPort := testkit.FreePort(t)
	start := time.Now()
	m := bootForTest(t, img, Options{MemoryMB: 160, Forward: map[int]int{webPort: 8080}, Append: "rcs.timing"}, "")

	base := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	client := sessionClient(10 * time.Second)

	// 1. The web UI comes up by itself: init, data disk, go2rtc, lightnvr.
	// Its page answers while the daemon still starts; health only once it is up.
	if page := waitOK(ctx, t, m, base+"/"); !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("GET / answered 200 without the web UI page: %.200s", page)
	}
	bootToUI := time.Since(start)
	var health map[string]any
	if body := waitOK(ctx, t, m, base+"/api/health"); json.Unmarshal(body, &health) != nil {
		t.Fatalf("/api/health is not JSON: %s", body)
	}
	bootToHealthy := time.Since(start)
	lap := &laps{t: t, last: time.Now()}
	if code, body := get(t, client, base+"/"); code != http.StatusOK || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("GET / = %d, want the web UI page", code)
	}

	// 2. The serial console: getty login as root, the banner runs diag --brief.
	banner := consoleLogin(ctx, t, m)
	for _, s := range diagSections {
		if !regexp.MustCompile(`(?m)^` + s + `\s*:`).MatchString(banner) {
			t.Errorf("login banner (diag --brief) has no %q line:\n%s", s, banner)
		}
	}
	// Checked once the console is open, so a failure can say why from the
	// daemon's own log.
	if h, _ := health["healthy"].(bool); !h {
		why, _, _ := m.Run(ctx, `grep -e 'health: ' /data/log/lightnvr.log | tail -n 5`)
		t.Fatalf("/api/health says not healthy: %v\nthe daemon's log:\n%s", health, why)
	}
	// diag (as root) reaches the locked go2rtc with the password from its file.
	if !regexp.MustCompile(`(?m)^go2rtc\s*:\s*up`).MatchString(banner) {
		t.Errorf("login banner: go2rtc not up for diag:\n%s", banner)
	}
	lap.done("2, console login")

	// 3. First boot made an admin with a random password, kept on the data disk
	// for whoever has the console; log in with it, as an installer would.
	user, password := initialAdmin(ctx, t, m)
	login(t, client, base, user, password)
	printBootTimes(ctx, t, m, bootToUI, bootToHealthy)
	// A new admin password removes the file with the generated one.
	changeOwnPassword(t, client, base, password, "installer-chose-this")
	lap.done("3, first admin")
	if out, _, err := m.Run(ctx, "test -e /data/db/initial-admin-password; echo present=$?"); err != nil || !strings.Contains(out, "present=1") {
		t.Errorf("initial-admin-password still on the data disk after the password was changed (%v):\n%s", err, out)
	}

	// 4. A stream whose source is an RTSP server on the host (10.0.2.2 from the guest).
	streamURL := fmt.Sprintf("rtsp://10.0.2.2:%d/cam", src.rtspPort)
	addStream(t, client, base, "cam", streamURL, segmentSeconds)

	// 5. The stream is recorded; the recording downloads and plays on the host.
	checkRecording(ctx, t, m, client, base, "cam", 0)
	lap.done("4-5, stream added and recorded")

	// 5b. No account below admin may run code on the box; should one ever get
	// a request through to go2rtc, that go2rtc runs unprivileged and wants a
	// password that only lightnvr knows.
	checkUnprivileged(ctx, t, m)
	checkRuntimeLimits(ctx, t, m)
	lap.done("5b, privileges")

	// 6. The full diag report on the console.
	out, rc, err := m.Run(ctx, "lightnvr diag")
	if err != nil {
		t.Fatal(err)
	}
	if rc != 0 {
		t.Errorf("lightnvr diag exited %d:\n%s", rc, out)
	}
	for _, s := range diagSections {
		if !strings.Contains(out, "== "+s+" ==") {
			t.Errorf("lightnvr diag has no %q section:\n%s", s, out)
		}
	}
	if !regexp.MustCompile(`quick_check:\s+ok`).MatchString(out) {
		t.Errorf("lightnvr diag: database quick_check not ok:\n%s", out)
	}
	if strings.Contains(out, "daemon not running") {
		t.Errorf("lightnvr diag did not reach the running daemon:\n%s", out)
	}
	jsonOut, rc, err := m.Run(ctx, "lightnvr diag --json > /tmp/diag.json; echo size=$(wc -c < /tmp/diag.json)")
	if err != nil || rc != 0 {
		t.Errorf("lightnvr diag --json: rc %d, %v: %s", rc, err, jsonOut)
	}

	// 7. Memory with lightnvr and go2rtc, one stream recording (reported, not asserted).
	mem, _, err := m.Run(ctx, "grep -E 'MemTotal|MemFree|MemAvailable' /proc/meminfo; "+
		"for p in lightnvr go2rtc; do f=/run/$p.child.pid; [ -f $f ] && echo \"$p $(grep VmRSS /proc/$(cat $f)/status)\"; done")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("guest memory, lightnvr + go2rtc, one stream recording (-m 160):\n%s", strings.TrimSpace(strings.ReplaceAll(mem, "\r", "")))
	lap.done("6-7, diag and memory")

	// 8. Supervision: a killed go2rtc comes back as a new process, and
	// lightnvr records through it again.
	killedAt := killGo2RTC(ctx, t, m)
	checkRecording(ctx, t, m, client, base, "cam", killedAt)
	lap.done("8, go2rtc killed and recorded through again")

	// 9. Clean power-off: scripts stop in reverse order and the data disk is unmounted.
	m.Send("poweroff\n")
	if err := m.WaitExit(ctx); err != nil {
		t.Fatalf("poweroff: %v", err)
	}
	lap.done("9, poweroff")
	if out, err := exec.Command("e2fsck", "-n", "-f", img.DataDisk).CombinedOutput(); err != nil {
		t.Errorf("data disk not clean after poweroff: %v\n%s", err, out)
	}
	if out, err := exec.Command("debugfs", "-R", "stat /db/lightnvr.db", img.DataDisk).CombinedOutput(); err != nil || !strings.Contains(string(out), "Size:") {
		t.Errorf("database not on the data disk: %v\n%s", err, out)
	}
}

// laps logs how long each step of a test took, so a slow run says where
// its time went.
type laps struct {
	t    *testing.T
	last time.Time
}

func (l *laps) done(step string) {
	l.t.Helper()
	now := time.Now()
	l.t.Logf("step %s: %.1f s", step, now.Sub(l.last).Seconds())
	l.last = now
}

// bootForTest boots a machine for t: its console goes to a file (kept as
// LIGHTNVR_QEMU_CONSOLE_LOG with suffix before ".log" when that is set), it
// is stopped when t ends, and a failed t prints the console's tail.
func bootForTest(t *testing.T, img Images, opt Options, suffix string) *Machine {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.log")
	if keep := os.Getenv("LIGHTNVR_QEMU_CONSOLE_LOG"); keep != "" {
		path = strings.TrimSuffix(keep, ".log") + suffix + ".log"
	}
	consoleLog, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { consoleLog.Close() })
	opt.Console = consoleLog
	m, err := Boot(img, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serial console (last 4000 bytes):\n%s", tailString(m.Console(), 4000))
		}
	})
	return m
}

// sessionClient keeps the session cookie of a login.
func sessionClient(timeout time.Duration) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Timeout: timeout, Jar: jar}
}

// waitOK polls url until it answers 200 and returns the body.
func waitOK(ctx context.Context, t *testing.T, m *Machine, url string) []byte {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return body
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("web UI never answered %s: %v", url, err)
		case <-m.Exited():
			t.Fatalf("qemu exited before the web UI came up")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// printBootTimes prints where the boot went: rcS's steps (guest uptime, from
// the console), lightnvr's start phases (from its log), and the whole as
// seen from the host. Printed, not asserted: the machine may be loaded.
func printBootTimes(ctx context.Context, t *testing.T, m *Machine, toUI, toHealthy time.Duration) {
	t.Helper()
	steps := regexp.MustCompile(`rcS: [^\r\n]*`).FindAllString(m.Console(), -1)
	out, _, err := m.Run(ctx, `grep -h -e 'msg="start phases"' -e 'msg="go2rtc running"' -e 'msg=ready' /data/log/lightnvr.log | head -n 3`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot-time breakdown:\n  %s\n  %s\n  qemu launch to the UI page: %.1f s, to healthy /api/health: %.1f s",
		strings.Join(steps, "\n  "), strings.Join(regexp.MustCompile(`(?m)^time=.*$`).FindAllString(strings.ReplaceAll(out, "\r", ""), -1), "\n  "),
		toUI.Seconds(), toHealthy.Seconds())
	fmt.Printf("boot-to-ui: %.1f\n", toUI.Seconds())
}

func login(t *testing.T, client *http.Client, base, user, pass string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
	resp, err := client.Post(base+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login as %s: %d %s", user, resp.StatusCode, b)
	}
}

// changeOwnPassword changes the signed-in user's password; the session stays.
func changeOwnPassword(t *testing.T, client *http.Client, base, old, pw string) {
	t.Helper()
	code, body := get(t, client, base+"/api/auth/verify")
	var me struct {
		ID int64 `json:"id"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &me) != nil || me.ID == 0 {
		t.Fatalf("GET /api/auth/verify: %d %s", code, body)
	}
	url := fmt.Sprintf("%s/api/auth/users/%d/password", base, me.ID)
	if code, b := sendJSON(t, client, "PUT", url, map[string]string{"old_password": old, "new_password": pw}); code != http.StatusOK {
		t.Fatalf("change password: %d %s", code, b)
	}
}

// sendJSON sends body as JSON and returns the answer's status and body.
func sendJSON(t *testing.T, client *http.Client, method, url string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, rb
}

// What the host's RTSP source sends (startRTSPSource) and how the test has
// the stream recorded (addStream): the downloaded recordings must match these.
const (
	srcWidth, srcHeight = 640, 360
	srcFPS              = 10
	srcGOP              = 20  // frames: a keyframe every 2 s
	srcKbps             = 400 // x264's average bitrate
	segmentSeconds      = 10

	// A segment is cut at the first keyframe at or after segmentSeconds,
	// so it holds 10 to 12 s of video (keyframes every srcGOP/srcFPS = 2 s);
	// half a second either side for the duration of the last frame.
	minSegmentSeconds = 9.5
	maxSegmentSeconds = 12.5
	// Half of what srcKbps make in segmentSeconds (400 kbit/s × 10 s / 8 =
	// 500,000 bytes): x264's average drifts, a truncated or mostly empty
	// file falls far below.
	minRecordingBytes = 250_000
)

func addStream(t *testing.T, client *http.Client, base, name, url string, segment int) {
	t.Helper()
	code, b := sendJSON(t, client, "POST", base+"/api/streams",
		map[string]any{"name": name, "url": url, "enabled": true, "record": true, "segment_duration": segment})
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("POST /api/streams: %d %s", code, b)
	}
	code, list := get(t, client, base+"/api/streams")
	if code != http.StatusOK || !strings.Contains(list, `"`+name+`"`) {
		t.Fatalf("GET /api/streams after adding %q: %d %s", name, code, list)
	}
}

// killGo2RTC kills go2rtc with SIGKILL over the console and waits for the
// supervisor to start a new one. It fails the test unless the old process is
// gone and /run/go2rtc.child.pid names a different, live process, and returns
// the guest's clock (Unix seconds) just before the kill.
func killGo2RTC(ctx context.Context, t *testing.T, m *Machine) int64 {
	t.Helper()
	out, _, err := m.Run(ctx, `f=/run/go2rtc.child.pid; old=$(cat $f); at=$(date +%s); kill -9 $old; `+
		`i=0; while [ $i -lt 30 ]; do new=$(cat $f 2>/dev/null); [ -n "$new" ] && [ "$new" != "$old" ] && kill -0 $new 2>/dev/null && break; sleep 1; i=$((i+1)); done; `+
		`kill -0 $old 2>/dev/null; old_rc=$?; kill -0 $new 2>/dev/null; new_rc=$?; `+
		`echo "at=$at old=$old old_alive=$old_rc new=$new new_alive=$new_rc"`)
	if err != nil {
		t.Fatal(err)
	}
	sub := regexp.MustCompile(`at=(\d+) old=(\d*) old_alive=(\d+) new=(\d*) new_alive=(\d+)`).FindStringSubmatch(out)
	if sub == nil {
		t.Fatalf("go2rtc kill: unexpected console output:\n%s", out)
	}
	at, _ := strconv.ParseInt(sub[1], 10, 64)
	oldPID, oldRC, newPID, newRC := sub[2], sub[3], sub[4], sub[5]
	t.Logf("go2rtc kill -9: pid %s before, %s after", oldPID, newPID)
	switch {
	case oldPID == "":
		t.Errorf("go2rtc had no child pid before the kill:\n%s", out)
	case oldRC == "0":
		t.Errorf("go2rtc pid %s still alive after kill -9", oldPID)
	case newPID == "" || newPID == oldPID || newRC != "0":
		t.Errorf("go2rtc not respawned after kill -9: pid %s before, %q after (alive rc %s)", oldPID, newPID, newRC)
	}
	return at
}

// checkRecording waits for a finished recording of the stream that started
// after the guest time `after` (Unix seconds; 0 for any), downloads it and
// checks it with ffprobe on the host.
func checkRecording(ctx context.Context, t *testing.T, m *Machine, client *http.Client, base, stream string, after int64) {
	t.Helper()
	const wait = 120 * time.Second
	deadline := time.Now().Add(wait)
	for {
		code, body := get(t, client, base+"/api/recordings?stream="+stream+"&sort=start_time&order=asc&limit=1000")
		if code != http.StatusOK {
			t.Fatalf("GET /api/recordings: %d %s", code, body)
		}
		var list struct {
			Recordings []struct {
				ID            int64 `json:"id"`
				IsComplete    *bool `json:"is_complete"`
				StartTimeUnix int64 `json:"start_time_unix"`
			} `json:"recordings"`
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("GET /api/recordings: %v: %s", err, body)
		}
		for _, r := range list.Recordings {
			if r.IsComplete == nil || !*r.IsComplete || r.StartTimeUnix <= after {
				continue
			}
			if after > 0 {
				t.Logf("recording %d of %s started %d s after %d", r.ID, stream, r.StartTimeUnix-after, after)
			}
			probeDownload(t, client, fmt.Sprintf("%s/api/recordings/download/%d", base, r.ID))
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if out, _, err := m.Run(ctx, "tail -n 60 /data/log/lightnvr.log"); err == nil {
				t.Logf("lightnvr log in the guest:\n%s", out)
			}
			t.Fatalf("no finished recording of %s started after %d within %s: %s", stream, after, wait, body)
		}
		time.Sleep(2 * time.Second)
	}
}

// probeDownload downloads a recording and checks it against what the source
// sends: one H.264 stream of the source's size, a segment's duration, and
// at least the bytes the source's bitrate makes in that time.
func probeDownload(t *testing.T, client *http.Client, url string) {
	t.Helper()
	need(t, "ffprobe", "ffmpeg")
	f, n := download(t, client, url)
	probe, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height:format=duration", "-of", "json", f).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe of the downloaded recording (%d bytes): %v\n%s", n, err, probe)
	}
	t.Logf("downloaded recording: %d bytes, ffprobe: %s", n, strings.Join(strings.Fields(string(probe)), " "))
	var p struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(probe, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, probe)
	}
	var video int
	for _, s := range p.Streams {
		if s.CodecType != "video" {
			continue
		}
		video++
		if s.CodecName != "h264" || s.Width != srcWidth || s.Height != srcHeight {
			t.Errorf("downloaded recording: video %s %dx%d, want h264 %dx%d", s.CodecName, s.Width, s.Height, srcWidth, srcHeight)
		}
	}
	if video != 1 {
		t.Errorf("downloaded recording has %d video streams, want 1: %s", video, probe)
	}
	if d, err := strconv.ParseFloat(p.Format.Duration, 64); err != nil || d < minSegmentSeconds || d > maxSegmentSeconds {
		t.Errorf("downloaded recording lasts %q s, want %.1f to %.1f (segment_duration %d)", p.Format.Duration, minSegmentSeconds, maxSegmentSeconds, segmentSeconds)
	}
	if n < minRecordingBytes {
		t.Errorf("downloaded recording has %d bytes, want at least %d (%d kbit/s for %d s, halved)", n, minRecordingBytes, srcKbps, segmentSeconds)
	}
}

type rtspSource struct{ rtspPort, apiPort int }

// streams is the host go2rtc's account of its source and consumers (GET
// /api/streams): the bytes each has moved so far.
func (s rtspSource) streams() string {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/api/streams", s.apiPort))
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// startRTSPSource runs go2rtc on the host with an ffmpeg test pattern (H.264,
// srcWidth×srcHeight at srcFPS, srcKbps), reachable from the guest as
// rtsp://10.0.2.2:PORT/cam.
func startRTSPSource(t *testing.T) rtspSource {
	t.Helper()
	need(t, "ffmpeg", "ffmpeg")
	g2r := filepath.Join(testkit.RepoRoot(t), "bin", "go2rtc")
	if _, err := os.Stat(g2r); err != nil {
		t.Fatalf("%s missing: run `make go2rtc`", g2r)
	}
	rtspPort, apiPort := testkit.FreePort(t), testkit.FreePort(t)
	dir := t.TempDir()
	conf := fmt.Sprintf(`api:
  listen: "127.0.0.1:%d"
rtsp:
  listen: "127.0.0.1:%d"
webrtc:
  listen: ""
log:
  level: warn
streams:
  cam: "exec:ffmpeg -hide_banner -loglevel error -re -f lavfi -i testsrc2=size=%dx%d:rate=%d -c:v libx264 -preset ultrafast -tune zerolatency -g %d -b:v %dk -pix_fmt yuv420p -f rtsp {output}"
`, apiPort, rtspPort, srcWidth, srcHeight, srcFPS, srcGOP, srcKbps)
	if err := os.WriteFile(filepath.Join(dir, "go2rtc.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(g2r, "-config", filepath.Join(dir, "go2rtc.yaml"))
	cmd.Dir = dir
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(rtspPort), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("host go2rtc did not listen on %d: %s", rtspPort, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return rtspSource{rtspPort: rtspPort, apiPort: apiPort}
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// need fails under CI=true and skips otherwise when a host tool is missing.
func need(t *testing.T, bin, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		testkit.Missing(t, fmt.Sprintf("%s not installed (apt-get install %s)", bin, pkg))
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// checkRuntimeLimits asserts that lightnvr runs with the Go runtime limits
// of /etc/default/lightnvr: its memory limit, and one scheduler thread (the
// A1's other core is go2rtc's and the camera's).
func checkRuntimeLimits(ctx context.Context, t *testing.T, m *Machine) {
	t.Helper()
	out, _, err := m.Run(ctx, `tr '\0' '\n' < /proc/$(cat /run/lightnvr.child.pid)/environ | grep -E '^GO(MAXPROCS|MEMLIMIT|GC)='`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOMAXPROCS=1", "GOMEMLIMIT=64MiB", "GOGC=75"} {
		if !strings.Contains(out, want) {
			t.Errorf("lightnvr's environment lacks %s:\n%s", want, out)
		}
	}
}

// nvrUID is the unprivileged user of rootfs-overlay/etc/passwd.
const nvrUID = "200"

// checkUnprivileged asserts over the console that go2rtc and lightnvr run as
// the nvr user, that nvr cannot write outside the data disk, and that go2rtc's
// API refuses a local caller without lightnvr's credentials.
func checkUnprivileged(ctx context.Context, t *testing.T, m *Machine) {
	t.Helper()
	out, _, err := m.Run(ctx, `for p in go2rtc lightnvr; do echo "uid-$p=$(awk '/^Uid:/{print $2 "/" $3}' /proc/$(cat /run/$p.child.pid)/status)"; done`)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"go2rtc", "lightnvr"} {
		if !strings.Contains(out, "uid-"+p+"="+nvrUID+"/"+nvrUID) {
			t.Errorf("%s does not run as nvr (uid %s):\n%s", p, nvrUID, out)
		}
	}
	out, _, err = m.Run(ctx, "wget -q -O - http://127.0.0.1:1984/go2rtc/api/streams 2>&1; echo wget-rc=$?")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "401") || strings.Contains(out, "wget-rc=0") {
		t.Errorf("go2rtc answered an unauthenticated request from inside the box:\n%s", out)
	}
	out, _, err = m.Run(ctx, "su -s /bin/sh -- nvr -c 'touch /run/nvr-probe' 2>&1; echo touch-rc=$?; stat -c '%U %n' /data /data/recordings /data/go2rtc/credentials.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "touch-rc=0") {
		t.Errorf("nvr may write /run:\n%s", out)
	}
	for _, f := range []string{"/data", "/data/recordings", "/data/go2rtc/credentials.yaml"} {
		if !strings.Contains(out, "nvr "+f) {
			t.Errorf("%s is not nvr's:\n%s", f, out)
		}
	}
}
