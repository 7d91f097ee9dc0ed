package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// TestDaemonRecordsGo2RTCRestream is the common set-up of a camera defined in
// go2rtc itself (set as go2rtc_config_override) and the streams pointed at
// go2rtc's restream: the one of the same name keeps go2rtc's source, the one
// of another name reads it as an alias, and both record.
func TestDaemonRecordsGo2RTCRestream(t *testing.T) {
	endToEnd(t)
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, daemonTestPassword)
	rtspPort := d.RTSPPort
	p := start(t, d)
	// The camera as the machine admin defines it in go2rtc.
	if code, b := p.call("POST", "/api/settings", map[string]any{"go2rtc_config_override": "streams:\n  front: " + cam.URL() + "\n"}); code != http.StatusOK {
		t.Fatalf("set the go2rtc override: %d %s", code, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, b := p.call("GET", "/go2rtc/api/streams?src=front", nil)
		if strings.Contains(string(b), cam.URL()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("go2rtc did not take the override's camera: %s", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
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

// TestDaemonDemoStreamRecordsAndEdits is `make run` on an empty database: the
// demo stream records within a minute, and its settings are edited like any
// other stream's, with the whole object as the UI sends it back too.
func TestDaemonDemoStreamRecordsAndEdits(t *testing.T) {
	endToEnd(t)
	p := start(t, testkit.NewDaemon(t, daemonTestPassword), "--demo")

	rec := p.waitRecording("demo", 60*time.Second, func(r recordingRow) bool { return r.IsComplete && r.SizeBytes > 0 })
	if d := p.probeDownload(rec.ID, rec.SizeBytes); d < 1 {
		t.Fatalf("demo recording plays %.2f s", d)
	}
	for _, body := range []map[string]any{{"record": false}, {"record": true}, {"priority": 3, "retention_days": 2}} {
		if code, b := p.call("PUT", "/api/streams/demo", body); code/100 != 2 {
			t.Fatalf("PUT demo %v: %d %s", body, code, b)
		}
	}
	code, b := p.call("GET", "/api/streams/demo", nil)
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil || code != http.StatusOK {
		t.Fatalf("GET demo: %d %s", code, b)
	}
	if u, _ := obj["url"].(string); strings.ContainsAny(u, " \t") || obj["record"] != true || obj["priority"] != float64(3) {
		t.Fatalf("demo after edits: %s", b)
	}
	for _, k := range []string{"name", "has_sub_stream", "isOnvif"} {
		delete(obj, k)
	}
	if code, b := p.call("PUT", "/api/streams/demo", obj); code/100 != 2 {
		t.Fatalf("PUT demo with the object as read: %d %s", code, b)
	}
	// A changed URL is checked as any other.
	if code, b := p.call("PUT", "/api/streams/demo", map[string]any{"url": "exec:ffmpeg -i x"}); code != http.StatusBadRequest {
		t.Fatalf("PUT demo with an exec url: %d %s, want 400", code, b)
	}
}
