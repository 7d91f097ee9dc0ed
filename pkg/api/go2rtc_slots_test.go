package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestGo2RTCProxyErrorAnswersReleaseSlots is the attack of one viewer on live
// view for everyone: stream.mp4 requests that go2rtc answers with an error
// (here a camera that refuses) used to keep their proxy slot, so a handful of
// them left every user with 503 until lightnvr restarted.
func TestGo2RTCProxyErrorAnswersReleaseSlots(t *testing.T) {
	const inflight = 4
	base := "http://" + startProxyServer(t, startGo2RTC(t), inflight)
	for i := range 3 * inflight {
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/stream.mp4?src=secret", "viewer")
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			t.Fatalf("error request %d: %d %s: an earlier failed stream.mp4 kept its slot", i+1, resp.StatusCode, body)
		}
		if resp.StatusCode < 400 {
			t.Fatalf("error request %d: status %d, want go2rtc's error for a refusing camera", i+1, resp.StatusCode)
		}
	}
	for _, user := range []string{"viewer", "admin"} {
		resp, body := proxyGet(t, "GET", base+"/go2rtc/api/streams", user)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s after the failed requests: %d %s, want 200", user, resp.StatusCode, body)
		}
	}
}

// TestGo2RTCProxyPerUserCap: one user at their share of the slots gets a clear
// 429, and another user still gets through.
func TestGo2RTCProxyPerUserCap(t *testing.T) {
	const inflight = 4 // one slot per user
	base := "http://" + startProxyServer(t, startGo2RTC(t), inflight)
	req, _ := http.NewRequest("GET", base+"/go2rtc/api/stream.mp4?src=test", nil)
	req.Header.Set("X-Test-User", "viewer")
	held, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Body.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(held.Body, head); err != nil || string(head[4:8]) != "ftyp" {
		t.Fatalf("stream.mp4 head % x err %v", head, err)
	}

	resp, body := proxyGet(t, "GET", base+"/go2rtc/api/streams", "viewer")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("viewer over their share: %d %s, want 429", resp.StatusCode, body)
	}
	var e struct{ Error string }
	if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, "one user") {
		t.Fatalf("429 without a clear reason: %s", body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	resp, body = proxyGet(t, "GET", base+"/go2rtc/api/streams", "admin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another user while viewer is at their cap: %d %s, want 200", resp.StatusCode, body)
	}
}
