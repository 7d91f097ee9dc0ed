package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The real daemon posts a motion trigger's event, signed, to the detection
// webhook, and shows the delivery in its status.
func TestDaemonSendsDetectionWebhook(t *testing.T) {
	rc, _, p := startWithHook(t, "detection_url", false)
	if code, b := p.call("POST", "/api/motion/trigger", map[string]any{"stream": "gate", "action": "pulse", "duration_ms": 100, "label": "car"}); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, b)
	}
	select {
	case <-rc.Seen:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook arrived")
	}
	h := rc.Requests()[0]
	if ok, want := h.SignedWith(secret); !ok {
		t.Fatalf("signature %q, want %q", h.Header.Get("X-LightNVR-Signature"), want)
	}
	var b struct {
		Type string `json:"type"`
		Data struct {
			Stream     string `json:"stream"`
			Source     string `json:"source"`
			Detections []struct {
				Label string `json:"label"`
			} `json:"detections"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.Body, &b); err != nil || b.Type != "detection" || b.Data.Stream != "gate" ||
		b.Data.Source != "api" || len(b.Data.Detections) != 1 || b.Data.Detections[0].Label != "car" {
		t.Fatalf("body %s (%v)", h.Body, err)
	}
	code, st := p.call("GET", "/api/notify/webhooks/status", nil)
	var status struct {
		Enabled bool `json:"enabled"`
	}
	if err := json.Unmarshal(st, &status); err != nil || code != 200 || !status.Enabled {
		t.Fatalf("status: %d %s", code, st)
	}
}

// The real daemon tells the stream webhook when a stream comes online and
// starts recording, and when its camera goes away: one watch of the
// streams' state feeds it (and MQTT).
func TestDaemonSendsStreamStateWebhooks(t *testing.T) {
	rc, cam, _ := startWithHook(t, "stream_url", true)
	waitStreamChange(t, rc, "online")
	waitStreamChange(t, rc, "recording_started")
	cam.Kill()
	waitStreamChange(t, rc, "offline")
}

const secret = "daemon-webhook-secret-0123"

// startWithHook starts a receiver, a camera and the daemon with webhooks
// signed with secret posting to the receiver as [webhooks] urlKey, and adds
// the camera as stream gate.
func startWithHook(t *testing.T, urlKey string, record bool) (*testkit.HookReceiver, *testkit.Camera, *daemonProc) {
	t.Helper()
	endToEnd(t)
	rc := testkit.StartHookReceiver(t, nil)
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, daemonTestPassword)
	d.Set("webhooks", "enabled", "true")
	d.Set("webhooks", urlKey, rc.URL+"/hook")
	d.Set("webhooks", "secret", secret)
	p := start(t, d)
	stream := map[string]any{"name": "gate", "url": cam.URL(), "record": record, "record_audio": false}
	if code, b := p.call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}
	return rc, cam, p
}

// waitStreamChange waits for a stream_state body of stream gate telling
// change, signed with secret.
func waitStreamChange(t *testing.T, rc *testkit.HookReceiver, change string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, h := range rc.Requests() {
			var b struct {
				Type string `json:"type"`
				Data struct {
					Stream, Change string
				} `json:"data"`
			}
			if err := json.Unmarshal(h.Body, &b); err != nil {
				t.Fatalf("body %s: %v", h.Body, err)
			}
			if b.Type != "stream_state" || b.Data.Stream != "gate" || b.Data.Change != change {
				continue
			}
			if ok, want := h.SignedWith(secret); !ok {
				t.Fatalf("signature %q, want %q", h.Header.Get("X-LightNVR-Signature"), want)
			}
			return
		}
		select {
		case <-rc.Seen:
		case <-deadline:
			var got []string
			for _, h := range rc.Requests() {
				got = append(got, string(h.Body))
			}
			t.Fatalf("no %q stream webhook; got %v", change, got)
		}
	}
}
