package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// The real daemon posts a motion trigger's event, signed, to the detection
// webhook, and shows the delivery in its status.
func TestDaemonSendsDetectionWebhook(t *testing.T) {
	endToEnd(t)
	const secret = "daemon-webhook-secret-0123"
	type hit struct {
		body []byte
		sig  string
	}
	hits := make(chan hit, 16)
	rc := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{b, r.Header.Get("X-LightNVR-Signature")}
	}))
	defer rc.Close()
	cam := testkit.StartCamera(t)
	d := testkit.NewDaemon(t, daemonTestPassword)
	d.Set("webhooks", "enabled", "true")
	d.Set("webhooks", "detection_url", rc.URL+"/hook")
	d.Set("webhooks", "secret", secret)
	p := start(t, d)
	stream := map[string]any{"name": "gate", "url": cam.URL(), "record": false, "record_audio": false}
	if code, b := p.call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}
	if code, b := p.call("POST", "/api/motion/trigger", map[string]any{"stream": "gate", "action": "pulse", "duration_ms": 100, "label": "car"}); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, b)
	}
	var h hit
	select {
	case h = <-hits:
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook arrived")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(h.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); h.sig != want {
		t.Fatalf("signature %q, want %q", h.sig, want)
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
	if err := json.Unmarshal(h.body, &b); err != nil || b.Type != "detection" || b.Data.Stream != "gate" ||
		b.Data.Source != "api" || len(b.Data.Detections) != 1 || b.Data.Detections[0].Label != "car" {
		t.Fatalf("body %s (%v)", h.body, err)
	}
	code, st := p.call("GET", "/api/notify/webhooks/status", nil)
	var status struct {
		Enabled bool `json:"enabled"`
	}
	if err := json.Unmarshal(st, &status); err != nil || code != 200 || !status.Enabled {
		t.Fatalf("status: %d %s", code, st)
	}
}
