package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

// TestDaemonRecordsGo2RTCRestream is the common set-up of a camera defined in
// go2rtc itself (the admin's override file) and the
// streams pointed at go2rtc's restream: the one of the same name keeps
// go2rtc's source, the one of another name reads it as an alias, and both
// record.
func TestDaemonRecordsGo2RTCRestream(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	testkit.Need(t, "ffprobe")
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, daemonTestPassword)
	ini, err := os.ReadFile(d.INI)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^rtsp_port = (\d+)$`).FindSubmatch(ini)
	if m == nil {
		t.Fatalf("no rtsp_port in %s", ini)
	}
	rtspPort, _ := strconv.Atoi(string(m[1]))
	// The camera as the machine admin defines it in go2rtc.
	dir := filepath.Join(d.Dir, "go2rtc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, go2rtc.OverrideFile), []byte("streams:\n  front: "+cam.URL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, d)

	for name, u := range map[string]string{
		"front":  fmt.Sprintf("rtsp://localhost:%d/front", rtspPort),
		"garage": fmt.Sprintf("rtsp://viewer:secret@[::1]:%d/front?video", rtspPort),
	} {
		body := map[string]any{"name": name, "url": u, "record": true, "segment_duration": 3, "record_audio": false}
		if code, b := p.call("POST", "/api/streams", body); code != http.StatusCreated {
			t.Fatalf("add %s: %d %s", name, code, b)
		}
	}
	for _, name := range []string{"front", "garage"} {
		rec := p.waitRecording(name, 60*time.Second, func(r recordingRow) bool { return r.IsComplete && r.SizeBytes > 0 })
		if dur := p.probeDownload(rec.ID, rec.SizeBytes); dur < 1 {
			t.Fatalf("%s: recording plays %.2f s", name, dur)
		}
		if codec, err := testkit.FFprobeCodec(t, fmt.Sprintf("rtsp://127.0.0.1:%d/%s", rtspPort, name), 20*time.Second); err != nil || codec != "h264" {
			t.Fatalf("ffprobe %s through go2rtc: %q %v", name, codec, err)
		}
	}
	if code, b := p.call("GET", "/go2rtc/api/streams?src=front", nil); code != http.StatusOK || !strings.Contains(string(b), cam.URL()) {
		t.Fatalf("go2rtc's front lost its camera: %d %s", code, b)
	}
}
