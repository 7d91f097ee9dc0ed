package go2rtc_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

func testLogger(t *testing.T) (*slog.Logger, *testkit.SyncBuffer) {
	buf := &testkit.SyncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func settings(t *testing.T) go2rtc.Settings {
	return go2rtc.Settings{
		Mode:       go2rtc.ModeManaged,
		BinaryPath: testkit.Go2RTCBinary(t),
		ConfigDir:  t.TempDir(),
		APIPort:    testkit.FreePort(t),
		RTSPPort:   testkit.FreePort(t),
	}
}

func TestRenderConfigLoopbackAndNoPublicSTUN(t *testing.T) {
	s := go2rtc.Settings{APIPort: 1984, RTSPPort: 8554, WebRTC: go2rtc.WebRTC{Enabled: true, ListenPort: 8555}}
	y := string(go2rtc.RenderConfig(s, []go2rtc.Stream{{Name: "cam", Sources: []string{"rtsp://u:p@h/x#a"}}}))
	for _, want := range []string{`listen: "127.0.0.1:1984"`, `base_path: "/go2rtc"`, `listen: "127.0.0.1:8554"`,
		`listen: ":8555"`, "ice_servers: []", `"cam":`, `- "rtsp://u:p@h/x#a"`} {
		if !strings.Contains(y, want) {
			t.Errorf("go2rtc.yaml lacks %q:\n%s", want, y)
		}
	}
	if strings.Contains(y, "stun:") {
		t.Errorf("no STUN configured, yet the yaml names one:\n%s", y)
	}
	s.WebRTC.STUNEnabled, s.WebRTC.STUNServer, s.WebRTC.ExternalIP = true, "stun.example.org:3478", "192.0.2.1"
	s.WebRTC.TURNEnabled, s.WebRTC.TURNServerURL, s.WebRTC.TURNUsername, s.WebRTC.TURNPassword = true, "turn:t:3478", "u", "p"
	y = string(go2rtc.RenderConfig(s, nil))
	for _, want := range []string{`urls: ["stun:stun.example.org:3478"]`, `urls: ["turn:t:3478"]`, `credential: "p"`,
		`- "192.0.2.1:8555"`, `- "stun:stun.example.org:3478"`} {
		if !strings.Contains(y, want) {
			t.Errorf("go2rtc.yaml lacks %q:\n%s", want, y)
		}
	}
}

func TestWriteConfigModeAndOverride(t *testing.T) {
	s := go2rtc.Settings{ConfigDir: filepath.Join(t.TempDir(), "g"), APIPort: 1, RTSPPort: 2}
	paths, err := go2rtc.WriteConfig(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 {
		t.Fatalf("without override: paths %v", paths)
	}
	st, err := os.Stat(paths[0])
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("go2rtc.yaml must be 0600 (it holds camera passwords): %v %v", st.Mode(), err)
	}
	s.Override = "log:\n  level: debug\n"
	paths, err = go2rtc.WriteConfig(s, nil)
	if err != nil || len(paths) != 2 || filepath.Base(paths[1]) != go2rtc.OverrideFile {
		t.Fatalf("with override: %v %v", paths, err)
	}
}

func TestClientAgainstRealGo2RTC(t *testing.T) {
	cam := testkit.StartCamera(t)
	g := testkit.StartGo2RTC(t, "")
	c := go2rtc.NewClient(g.API)
	ctx := context.Background()
	info, err := c.Info(ctx)
	if err != nil || info.Version == "" {
		t.Fatalf("info: %+v %v", info, err)
	}
	src := cam.URL()
	if err := c.PutStream(ctx, "pattern", []string{src}); err != nil {
		t.Fatal(err)
	}
	list, err := c.Streams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if si, ok := list["pattern"]; !ok || len(si.Producers) != 1 || si.Producers[0].URL != src {
		t.Fatalf("go2rtc does not list the stream as put: %+v", list)
	}
	codec, err := testkit.FFprobeCodec(t, "rtsp://127.0.0.1:"+strconv.Itoa(g.RTSPPort)+"/pattern", 20*time.Second)
	if err != nil || codec != "h264" {
		t.Fatalf("ffprobe: codec %q, %v", codec, err)
	}
	for _, bad := range []string{"nosuchscheme://x", testkit.TestPatternSource("320x240", 10)} {
		if err := c.PutStream(ctx, "bad", []string{bad}); err == nil {
			t.Fatalf("go2rtc accepted source %q over its API", bad)
		} else if !strings.Contains(err.Error(), "400") {
			t.Fatalf("source %q: want a 400, got %v", bad, err)
		}
	}
	if err := c.DeleteStream(ctx, "pattern"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stream(ctx, "pattern"); !go2rtc.IsNotFound(err) {
		t.Fatalf("deleted stream: want 404, got %v", err)
	}
}

func TestReconcileFixesDrift(t *testing.T) {
	g := testkit.StartGo2RTC(t, "streams:\n  stale: rtsp://127.0.0.1:9/x\n  changed: rtsp://127.0.0.1:9/old\n  same: rtsp://127.0.0.1:9/same\n")
	c := go2rtc.NewClient(g.API)
	ctx := context.Background()
	want := []go2rtc.Stream{
		{Name: "changed", Sources: []string{"rtsp://127.0.0.1:9/new"}},
		{Name: "same", Sources: []string{"rtsp://127.0.0.1:9/same"}},
		{Name: "missing", Sources: []string{"rtsp://u:secret@127.0.0.1:9/m"}},
	}
	res, err := go2rtc.Reconcile(ctx, c, want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Added, ",") != "missing" || strings.Join(res.Updated, ",") != "changed" || strings.Join(res.Deleted, ",") != "stale" {
		t.Fatalf("reconcile did %+v", res)
	}
	list, _ := c.Streams(ctx)
	if len(list) != 3 || list["changed"].Producers[0].URL != "rtsp://127.0.0.1:9/new" {
		t.Fatalf("go2rtc after reconcile: %+v", list)
	}
	res, err = go2rtc.Reconcile(ctx, c, want, nil)
	if err != nil || res.Changed() {
		t.Fatalf("second reconcile must change nothing: %+v %v", res, err)
	}
}

func TestSupervisorRestartsKilledGo2RTC(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	log, buf := testLogger(t)
	set := settings(t)
	sup := startReady(t, go2rtc.SupervisorOptions{
		Settings: set, Logger: log, HealthInterval: 200 * time.Millisecond, Backoff: backoff.Backoff{Min: 100 * time.Millisecond},
		Streams: func(context.Context) ([]go2rtc.Stream, error) {
			return []go2rtc.Stream{{Name: "cam", Sources: []string{"rtsp://admin:hunter2@127.0.0.1:9/x"}}}, nil
		},
	}, 15*time.Second)
	ctx := context.Background()
	st := sup.Status()
	if _, err := sup.Client().Stream(ctx, "cam"); err != nil {
		t.Fatalf("stream from go2rtc.yaml not loaded: %v", err)
	}
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "go2rtc restarted", func() bool {
		s := sup.Status()
		return s.Ready() && s.Generation > st.Generation && s.PID != st.PID
	})
	if sup.Status().Restarts < 1 {
		t.Fatalf("restart not counted: %+v", sup.Status())
	}
	if err := sup.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	pid := sup.Status().PID
	if sup.Status().State != go2rtc.StateStopped {
		t.Fatalf("after stop: %+v", sup.Status())
	}
	if pid != 0 {
		t.Fatalf("pid still set after stop: %d", pid)
	}
	if err := testkit.WaitHTTP(set.APIURL()+"/api", 300*time.Millisecond); err == nil {
		t.Fatal("go2rtc still answers after Stop")
	}
	if strings.Contains(buf.String(), "hunter2") {
		t.Fatalf("a camera password reached our log:\n%s", buf.String())
	}
	// go2rtc says in plain text that it got our SIGTERM; a stop we asked
	// for is no warning.
	var said bool
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, "exit with signal") {
			said = true
			if !strings.Contains(line, "level=INFO") {
				t.Errorf("go2rtc's exit on our stop logged as: %s", line)
			}
		}
	}
	if !said {
		t.Errorf("go2rtc's exit on our stop is not in the log:\n%s", buf.String())
	}
}

func TestSupervisorBudgetExhausted(t *testing.T) {
	script := filepath.Join(t.TempDir(), "go2rtc")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'fatal: cannot open rtsp://u:swordfish@cam/x' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	log, buf := testLogger(t)
	set := go2rtc.Settings{BinaryPath: script, ConfigDir: t.TempDir(), APIPort: testkit.FreePort(t), RTSPPort: testkit.FreePort(t)}
	sup, err := startSupervisor(t, go2rtc.SupervisorOptions{
		Settings: set, Logger: log, Backoff: backoff.Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}, RestartBudget: 3,
	}, 10*time.Second)
	if err == nil {
		t.Fatal("a go2rtc that always exits became ready")
	}
	st := sup.Status()
	if st.State != go2rtc.StateFailed || st.Restarts != 3 {
		t.Fatalf("want failed after 3 restarts, got %+v", st)
	}
	for _, want := range []string{"restart budget exhausted", "exit status 1", "fatal: cannot open rtsp://u:***@cam/x"} {
		if !strings.Contains(st.LastError, want) {
			t.Errorf("reason %q lacks %q", st.LastError, want)
		}
	}
	if strings.Contains(st.LastError, "swordfish") || strings.Contains(buf.String(), "swordfish") {
		t.Fatalf("password leaked: reason %q log:\n%s", st.LastError, buf.String())
	}
}

func TestSupervisorExternalMode(t *testing.T) {
	g := testkit.StartGo2RTC(t, "")
	// config_dir is set, as on the appliance: external mode may read go2rtc's
	// credentials there but must write nothing of its own.
	set := go2rtc.Settings{Mode: go2rtc.ModeExternal, APIPort: g.APIPort, RTSPPort: g.RTSPPort, ConfigDir: t.TempDir()}
	sup := startExternal(t, set)
	g.Kill()
	testkit.WaitFor(t, 5*time.Second, "external go2rtc seen down", func() bool { return sup.Status().State == go2rtc.StateDown })
	if left, err := os.ReadDir(set.ConfigDir); err != nil || len(left) != 0 {
		t.Fatalf("external mode wrote into config_dir: %v %v", left, err)
	}
}

// TestManagedGo2RTCRefusesUnauthenticated is the attack of a local process
// (another user on the box, or a request forged through some other loopback
// service): talk to go2rtc's API on 127.0.0.1 directly and add an exec: source.
// A managed go2rtc must refuse it without lightnvr's credentials, and even
// with them must not offer the management endpoints at all.
func TestManagedGo2RTCRefusesUnauthenticated(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	log, buf := testLogger(t)
	set := settings(t)
	sup := startReady(t, go2rtc.SupervisorOptions{Settings: set, Logger: log}, 15*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	creds := sup.Credentials()
	if creds.IsZero() || len(creds.Password) < 32 {
		t.Fatalf("managed go2rtc runs without a strong password: %+v", creds.Username)
	}

	plain := go2rtc.NewClient(set.APIURL())
	attack := []string{"exec:sh -c 'touch " + filepath.Join(t.TempDir(), "pwned") + "'"}
	if err := plain.PutStream(ctx, "evil", attack); !go2rtc.IsUnauthorized(err) {
		t.Fatalf("unauthenticated PUT /api/streams from loopback: %v, want 401", err)
	}
	if _, err := plain.Streams(ctx); !go2rtc.IsUnauthorized(err) {
		t.Fatalf("unauthenticated GET /api/streams from loopback: %v, want 401", err)
	}
	wrong := go2rtc.NewClientWithAuth(set.APIURL(), func() go2rtc.Credentials {
		return go2rtc.Credentials{Username: creds.Username, Password: "guess"}
	})
	if _, err := wrong.Info(ctx); !go2rtc.IsUnauthorized(err) {
		t.Fatalf("wrong password: %v, want 401", err)
	}

	// lightnvr's own client gets in, and reconcile works.
	res, err := go2rtc.Reconcile(ctx, sup.Client(), []go2rtc.Stream{{Name: "cam", Sources: []string{"rtsp://127.0.0.1:9/x"}}}, nil)
	if err != nil || len(res.Added) != 1 {
		t.Fatalf("reconcile with credentials: %+v %v", res, err)
	}

	// With the password, the endpoints lightnvr does not use do not exist.
	for _, path := range []string{"/api/config", "/api/exit", "/api/restart", "/api/log", "/"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, set.APIURL()+path, nil)
		req.SetBasicAuth(creds.Username, creds.Password)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with credentials: %d, want 404 (not in allow_paths)", path, resp.StatusCode)
		}
	}

	// The credentials file is go2rtc's and ours only, and diag can read it back.
	path := filepath.Join(set.ConfigDir, go2rtc.CredentialsFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("%s mode %v, want 0600", path, st.Mode().Perm())
	}
	if got, err := go2rtc.LoadCredentials(set.ConfigDir); err != nil || got != creds {
		t.Fatalf("LoadCredentials = %v, %v", got.Username, err)
	}
	if strings.Contains(buf.String(), creds.Password) {
		t.Fatalf("go2rtc's password reached our log:\n%s", buf.String())
	}
}

// TestExternalGo2RTCCredentialsReloaded: on the appliance the init script writes
// a new password each time it starts go2rtc; lightnvr must pick it up from the
// file instead of staying locked out.
func TestExternalGo2RTCCredentialsReloaded(t *testing.T) {
	dir := t.TempDir()
	first := go2rtc.Credentials{Username: "lightnvr", Password: "first-secret"}
	set := go2rtc.Settings{Mode: go2rtc.ModeExternal, ConfigDir: dir, APIPort: testkit.FreePort(t), RTSPPort: testkit.FreePort(t)}
	credPath, err := go2rtc.WriteCredentials(set, first)
	if err != nil {
		t.Fatal(err)
	}
	g := testkit.StartGo2RTCOn(t, set.APIPort, set.RTSPPort, "", credPath)
	sup := startExternal(t, set)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := go2rtc.NewClient(set.APIURL()).Streams(ctx); !go2rtc.IsUnauthorized(err) {
		t.Fatalf("external go2rtc without credentials: %v, want 401", err)
	}
	// The init script restarts go2rtc with a new password.
	g.Kill()
	second := go2rtc.Credentials{Username: "lightnvr", Password: "second-secret"}
	if _, err := go2rtc.WriteCredentials(set, second); err != nil {
		t.Fatal(err)
	}
	testkit.StartGo2RTCOn(t, set.APIPort, set.RTSPPort, "", credPath)
	testkit.WaitFor(t, 10*time.Second, "new password picked up", func() bool {
		_, err := sup.Client().Streams(ctx)
		return err == nil && sup.Credentials() == second
	})
}

// TestApplianceCredentialsScript: the appliance's init script locks its go2rtc
// with the file usr/libexec/lightnvr/go2rtc-credentials writes. go2rtc must
// refuse a local caller without it, lightnvr must read it back, and its
// allow_paths must be exactly the endpoints lightnvr uses.
func TestApplianceCredentialsScript(t *testing.T) {
	script := filepath.Join(testkit.RepoRoot(t), "rootfs-overlay", "usr", "libexec", "lightnvr", "go2rtc-credentials")
	dir := t.TempDir()
	path := filepath.Join(dir, go2rtc.CredentialsFile)
	if out, err := exec.Command("sh", script, path, go2rtc.DefaultBasePath).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v, want mode 0600", st, err)
	}
	creds, err := go2rtc.LoadCredentials(dir)
	if err != nil || creds.Username != go2rtc.CredentialsUser || len(creds.Password) != 32 {
		t.Fatalf("LoadCredentials of the script's file: %+v %v", creds.Username, err)
	}
	data, _ := os.ReadFile(path)
	for _, p := range go2rtc.APIPaths {
		if !strings.Contains(string(data), `"`+go2rtc.DefaultBasePath+"/"+p+`"`) {
			t.Errorf("script's allow_paths lack %s:\n%s", p, data)
		}
	}
	if got, want := strings.Count(string(data), `    - "`), len(go2rtc.APIPaths); got != want {
		t.Errorf("script allows %d paths, lightnvr uses %d", got, want)
	}

	set := go2rtc.Settings{ConfigDir: dir, APIPort: testkit.FreePort(t), RTSPPort: testkit.FreePort(t)}
	testkit.StartGo2RTCOn(t, set.APIPort, set.RTSPPort, "", path)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := go2rtc.NewClient(set.APIURL()).Streams(ctx); !go2rtc.IsUnauthorized(err) {
		t.Fatalf("go2rtc locked by the script, no credentials: %v, want 401", err)
	}
	authed := go2rtc.NewClientWithAuth(set.APIURL(), func() go2rtc.Credentials { return creds })
	if _, err := authed.Streams(ctx); err != nil {
		t.Fatalf("with the script's credentials: %v", err)
	}
}

func TestOverrideStreamNames(t *testing.T) {
	yaml := `# the admin's own pipelines
api:
  listen: ":1984"
streams:
  garage: exec:ffmpeg -i /dev/video0 -f rtsp {output}
  "front door":
    - rtsp://cam/1
    - ffmpeg:front door#video=h264
  'yard': rtsp://cam/2
  # side: rtsp://commented/out
  nested:
    - url: not a key of streams
webrtc:
  candidates:
    - stun:8555
  streams: not the top-level map
`
	got := strings.Join(go2rtc.OverrideStreamNames([]byte(yaml)), ",")
	if want := "garage,front door,yard,nested"; got != want {
		t.Errorf("stream names %q, want %q", got, want)
	}
	if n := go2rtc.OverrideStreamNames([]byte("api:\n  listen: :1984\n")); len(n) != 0 {
		t.Errorf("a file without streams names %v", n)
	}
	dir := t.TempDir()
	set := go2rtc.Settings{ConfigDir: dir}
	if names, err := set.OverrideStreams(); err != nil || len(names) != 0 {
		t.Errorf("no override file: %v %v", names, err)
	}
	if err := os.WriteFile(filepath.Join(dir, go2rtc.OverrideFile), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if names, err := set.OverrideStreams(); err != nil || !names["garage"] || !names["front door"] || names["streams"] {
		t.Errorf("override file: %v %v", names, err)
	}
}

// startExternal supervises the go2rtc that set points at in external mode,
// ready, and stopped when the test ends.
func startExternal(t *testing.T, set go2rtc.Settings) *go2rtc.Supervisor {
	t.Helper()
	log, _ := testLogger(t)
	return startReady(t, go2rtc.SupervisorOptions{Settings: set, Logger: log, HealthInterval: 100 * time.Millisecond}, 10*time.Second)
}

// startSupervisor starts a supervisor, stopped when the test ends, and
// returns it with the outcome of waiting up to within for go2rtc to be ready.
func startSupervisor(t *testing.T, opts go2rtc.SupervisorOptions, within time.Duration) (*go2rtc.Supervisor, error) {
	t.Helper()
	sup, err := go2rtc.NewSupervisor(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sup.Stop(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	return sup, sup.WaitReady(ctx)
}

// startReady is startSupervisor for a go2rtc that must become ready.
func startReady(t *testing.T, opts go2rtc.SupervisorOptions, within time.Duration) *go2rtc.Supervisor {
	t.Helper()
	sup, err := startSupervisor(t, opts, within)
	if err != nil {
		t.Fatal(err)
	}
	return sup
}

// TestExternalGo2RTCSlowIsNotDown: an external go2rtc that misses one
// health check, as on a box busy recording, stays running in the same
// generation (a new one would register every stream again); one that
// stays silent for HealthFailures checks is down.
func TestExternalGo2RTCSlowIsNotDown(t *testing.T) {
	g := testkit.StartGo2RTC(t, "")
	set := go2rtc.Settings{Mode: go2rtc.ModeExternal, APIPort: g.APIPort, RTSPPort: g.RTSPPort}
	log, buf := testLogger(t)
	sup := startReady(t, go2rtc.SupervisorOptions{Settings: set, Logger: log, HealthInterval: 100 * time.Millisecond,
		HealthFailures: 3}, 10*time.Second)
	gen := sup.Status().Generation
	pid := g.Cmd.Process.Pid
	stop := func() {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	cont := func() { _ = syscall.Kill(pid, syscall.SIGCONT) }
	t.Cleanup(cont)

	// One check times out (2 s), the next answers.
	stop()
	testkit.WaitFor(t, 10*time.Second, "a health check failing", func() bool {
		return strings.Contains(buf.String(), "go2rtc health check failed")
	})
	cont()
	time.Sleep(time.Second) // a few more checks, all answered
	if st := sup.Status(); st.State != go2rtc.StateRunning || st.Generation != gen {
		t.Fatalf("after one slow check: %s generation %d, want running generation %d", st.State, st.Generation, gen)
	}

	// Silent for good: down after three checks.
	stop()
	testkit.WaitFor(t, 15*time.Second, "a silent go2rtc seen down", func() bool { return sup.Status().State == go2rtc.StateDown })
	if n := strings.Count(buf.String(), "go2rtc health check failed"); n < 3 {
		t.Errorf("%d failed checks logged, want 3: the slow one, then two before down", n)
	}
	cont()
	testkit.WaitFor(t, 10*time.Second, "go2rtc running again", func() bool { return sup.Status().State == go2rtc.StateRunning })
	if st := sup.Status(); st.Generation != gen+1 {
		t.Errorf("back after being down: generation %d, want %d", st.Generation, gen+1)
	}
}
