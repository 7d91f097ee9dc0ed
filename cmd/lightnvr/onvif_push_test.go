package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The real daemon follows a camera that only pushes its events (no
// PullPoint): the camera posts a Notify to the daemon's web port, and its
// motion event opens a detection clip.
func TestDaemonPushedCameraEventRecordsClip(t *testing.T) {
	cam, d, p := startWithCamera(t)
	dev := testkit.StartONVIFCamera(t, testkit.ONVIFCameraOptions{User: "admin", Password: "s3cret", Skew: time.Hour,
		BasicNotification: true})
	stream := map[string]any{"name": "gate", "url": cam.URL(), "record": false, "detection_based_recording": true,
		"detection_model": "onvif", "onvif_username": "admin", "onvif_password": "s3cret", "onvif_port": dev.Port,
		"pre_detection_buffer": 2, "post_detection_buffer": 2, "segment_duration": 60, "record_audio": false}
	if code, b := p.call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}
	testkit.WaitFor(t, 30*time.Second, "the camera pushing to the daemon", func() bool { return len(dev.Consumers()) == 1 })
	if c := dev.Consumers()[0]; !strings.HasPrefix(c, d.Base+"/api/onvif/notify/") {
		t.Fatalf("consumer address %q is not on the daemon's web port %s", c, d.Base)
	}
	time.Sleep(3 * time.Second) // the pre-event buffer fills
	if n := dev.Emit(testkit.ONVIFEvent{Topic: "tns1:RuleEngine/CellMotionDetector/Motion", Data: map[string]string{"IsMotion": "true"}}); n != 1 {
		t.Fatalf("the camera's event reached %d consumers", n)
	}
	clip := p.waitRecording("gate", 40*time.Second, func(r recordingRow) bool { return r.IsComplete })
	if code, b := p.call("GET", "/api/recordings/"+strconv.FormatInt(clip.ID, 10), nil); code != 200 ||
		!strings.Contains(string(b), `"trigger_type":"detection"`) {
		t.Fatalf("clip: %d %s, want a detection clip", code, b)
	}
}
