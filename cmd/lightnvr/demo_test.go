package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/testkit"
)

// TestDaemonDemoStreamRecordsAndEdits is `make run` on an empty database: the
// demo stream records within a minute, and its settings are edited like any
// other stream's, with the whole object as the UI sends it back too.
func TestDaemonDemoStreamRecordsAndEdits(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end daemon test")
	}
	testkit.Need(t, "ffprobe")
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
