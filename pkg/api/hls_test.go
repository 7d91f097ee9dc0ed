package api

import (
	"context"
	"encoding/base64"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// hlsEnv is the whole stack over a real camera: go2rtc, the stream manager
// running stream "cam"'s pipeline (recording off), the server on an
// in-memory listener for the tests and a TCP one for ffmpeg.
type hlsEnv struct {
	*authEnv
	mgr  *streams.Manager
	addr string
}

func newHLSEnv(t *testing.T) *hlsEnv {
	t.Helper()
	cam := testkit.StartCamera(t)
	d := testkit.OpenDB(t, "")
	s := db.NewStream("cam", cam.URL())
	s.Record = false
	if err := db.InsertStream(context.Background(), d, s); err != nil {
		t.Fatal(err)
	}
	storage := t.TempDir()
	ingest := streams.NewRecording(streams.RecordingOptions{DB: d, StorageDir: storage, Logger: quietLog})
	_, mgr := startStreamStack(t, d, ingest.Factory())
	ae := newAuthEnv(t, envOpts{db: d, cfg: func(c *config.Config) { c.Storage.Path = storage },
		deps: func(deps *Deps) { deps.Streams, deps.Ingest = mgr, ingest }})
	ae.addUser("viewer", "viewer-pass", auth.RoleViewer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ae.srv.Serve(ln) }()
	t.Cleanup(func() { _ = ln.Close() })
	testkit.WaitFor(t, 30*time.Second, "stream cam to run", func() bool { return mgr.StatusOf("cam").State == streams.StateActive })
	return &hlsEnv{authEnv: ae, mgr: mgr, addr: ln.Addr().String()}
}

func TestLiveHLSOverHTTP(t *testing.T) {
	e := newHLSEnv(t)
	viewer := [2]string{"viewer", "viewer-pass"}
	if r := e.do(req{method: "GET", path: "/hls/cam/index.m3u8"}); r.status != 401 {
		t.Fatalf("without credentials: %d %s", r.status, r.body)
	}
	// allowed_tags apply: a viewer limited to other streams gets 403.
	tags := "garden"
	if _, err := e.svc.CreateUser(context.Background(), auth.NewUser{Username: "guest", Password: "guest-pass",
		Role: auth.RoleViewer, Active: true, AllowedTags: &tags}); err != nil {
		t.Fatal(err)
	}
	if r := e.do(req{method: "GET", path: "/hls/cam/index.m3u8", basic: [2]string{"guest", "guest-pass"}}); r.status != 403 {
		t.Fatalf("outside allowed_tags: %d %s", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/hls/nope/index.m3u8", basic: viewer}); r.status != 404 {
		t.Fatalf("unknown stream: %d %s", r.status, r.body)
	}
	r := e.do(req{method: "GET", path: "/hls/cam/index.m3u8", basic: viewer})
	if r.status != 200 || string(r.header.ContentType()) != "application/vnd.apple.mpegurl" ||
		!regexp.MustCompile(`(?m)^#EXT-X-PART-INF:`).Match(r.body) {
		t.Fatalf("playlist: %d %s\n%s", r.status, r.header.ContentType(), r.body)
	}
	if r := e.do(req{method: "GET", path: "/hls/cam/seg999999.m4s", basic: viewer}); r.status != 404 {
		t.Fatalf("a segment that will not exist in time: %d %s", r.status, r.body)
	}

	// What LightNVR's UI asks before choosing HLS now says it is there.
	if h := e.do(req{method: "GET", path: "/api/health/hls", basic: viewer}).json(t); h["served"] != true {
		t.Fatalf("/api/health/hls: %v", h)
	}
	if r := e.do(req{method: "GET", path: "/api/streams/cam", basic: viewer}).json(t); r["go2rtc_hls_available"] != true {
		t.Fatalf("go2rtc_hls_available: %v", r["go2rtc_hls_available"])
	}

	// A real player plays the live playlist through our port with the
	// viewer's credentials.
	ff := testkit.Need(t, "ffmpeg")
	cred := base64.StdEncoding.EncodeToString([]byte("viewer:viewer-pass"))
	cmd := exec.Command(ff, "-hide_banner", "-nostats", "-v", "error", "-headers", "Authorization: Basic "+cred+"\r\n",
		"-i", "http://"+e.addr+"/hls/cam/index.m3u8", "-t", "5", "-progress", "pipe:1", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	// 5 s of a 10 fps camera: -progress reports frame=N, the last one 50.
	if !regexp.MustCompile(`(?m)^frame=(4[5-9]|[5-9][0-9])$`).Match(out) {
		t.Fatalf("ffmpeg did not play 5 s of the 10 fps camera:\n%s", out)
	}

	// Live HLS lives in memory: nothing under storage.
	_ = fs.WalkDir(os.DirFS(e.cfg.Storage.Path), ".", func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			t.Errorf("file written under storage: %s", p)
		}
		return nil
	})
}
