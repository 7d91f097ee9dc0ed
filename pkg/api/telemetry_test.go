package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Player reports are taken bounded, checked, kept bounded per running
// stream, and show in /api/health.
func TestPlayerTelemetry(t *testing.T) {
	e := newRecordingEnv(t)
	for _, name := range []string{"yard", "door"} {
		if code, body := call(e.srv, "admin", "POST", "/api/streams", `{"name":"`+name+`","url":"`+e.cam.URL()+`"}`); code != 201 {
			t.Fatalf("create %s: %d %s", name, code, body)
		}
	}
	report := func(stream, session string, ttff float64) string {
		return fmt.Sprintf(`{"stream_name":%q,"session_id":%q,"transport":"webrtc","ttff_ms":%g,"rebuffer_count":1,
			"rebuffer_duration_ms":250,"resolution_switches":0,"webrtc_rtt_ms":12}`, stream, session, ttff)
	}
	for _, r := range []string{report("yard", "s1", 300), report("yard", "s2", 500)} {
		if code, body := call(e.srv, "viewer", "POST", "/api/telemetry/player", r); code != 204 || len(body) != 0 {
			t.Fatalf("report: %d %q, want 204 and no body", code, body)
		}
	}
	code, body := call(e.srv, "admin", "GET", "/api/health", "")
	var h struct {
		StreamsDetail []struct {
			Name   string        `json:"name"`
			Player *playerHealth `json:"player"`
		} `json:"streams_detail"`
	}
	if code != 200 || json.Unmarshal(body, &h) != nil {
		t.Fatalf("health: %d %s", code, body)
	}
	var yard *playerHealth
	for _, d := range h.StreamsDetail {
		if d.Name == "yard" {
			yard = d.Player
		}
	}
	if yard == nil || yard.Reports != 2 || yard.Sessions != 2 || yard.TTFFMS != 400 || yard.RebufferCount != 2 ||
		yard.RebufferDurationMS != 500 || yard.WebRTCRTTMS != 12 || yard.Transport != "webrtc" || yard.LastReport == 0 {
		t.Fatalf("player health of yard: %+v (%s)", yard, body)
	}

	// The remembered sessions are bounded.
	players := e.srv.system.players
	for i := range telemetrySessions + 8 {
		if code, body := call(e.srv, "viewer", "POST", "/api/telemetry/player", report("yard", fmt.Sprint("many-", i), 0)); code != 204 {
			t.Fatalf("report %d: %d %s", i, code, body)
		}
	}
	if p := players.of("yard"); p.Sessions != telemetrySessions || p.TTFFMS != 400 {
		t.Errorf("after %d sessions: %+v, want %d remembered and the ttff mean of the reports that had one", telemetrySessions+10, p, telemetrySessions)
	}
	// A stream that stops running takes its reports with it.
	if code, body := call(e.srv, "admin", "DELETE", "/api/streams/yard?permanent=true", ""); code != 200 {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := call(e.srv, "viewer", "POST", "/api/telemetry/player", report("door", "d1", 100)); code != 204 {
		t.Fatalf("report door: %d", code)
	}
	if p := players.of("yard"); p != nil {
		t.Errorf("a deleted stream keeps its player reports: %+v", p)
	}

	for _, c := range []struct {
		name, body string
		code       int
		msg        string
	}{
		{"empty", "", 400, "empty"},
		{"unknown field", `{"stream_name":"door","session_id":"x","transport":"webrtc","fps":1}`, 400, "unknown field"},
		{"wrong type", `{"stream_name":"door","session_id":"x","transport":"webrtc","ttff_ms":"fast"}`, 400, "ttff_ms"},
		{"no stream", `{"session_id":"x","transport":"webrtc"}`, 400, "stream_name"},
		{"no session", `{"stream_name":"door","transport":"webrtc"}`, 400, "session_id"},
		{"long session", `{"stream_name":"door","session_id":"` + strings.Repeat("s", 65) + `","transport":"webrtc"}`, 400, "session_id"},
		{"transport", `{"stream_name":"door","session_id":"x","transport":"carrier-pigeon"}`, 400, "transport"},
		{"negative", `{"stream_name":"door","session_id":"x","transport":"mse","rebuffer_count":-1}`, 400, "negative"},
		{"too large", `{"stream_name":"door","session_id":"x","transport":"mse"}` + strings.Repeat(" ", maxTelemetryBody), 413, "limit"},
		{"unknown stream", report("nope", "x", 1), 404, "not running"},
	} {
		code, body := call(e.srv, "viewer", "POST", "/api/telemetry/player", c.body)
		if code != c.code || !strings.Contains(string(body), c.msg) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.code, c.msg)
		}
	}
	if p := players.of("door"); p == nil || p.Reports != 1 {
		t.Errorf("refused reports were counted: %+v", p)
	}
}

// /api/health/hls tells whether live HLS is served: it is, from the stream
// pipelines, and healthy while go2rtc runs.
func TestHLSHealth(t *testing.T) {
	e := newRecordingEnv(t)
	code, body := call(e.srv, "viewer", "GET", "/api/health/hls", "")
	var h struct {
		Healthy  *bool  `json:"healthy"`
		Status   string `json:"status"`
		Restarts *int   `json:"watchdogRestartCount"`
		Time     string `json:"timestamp"`
		Served   *bool  `json:"served"`
	}
	if code != 200 || json.Unmarshal(body, &h) != nil || h.Healthy == nil || h.Restarts == nil || h.Served == nil {
		t.Fatalf("hls health: %d %s", code, body)
	}
	if !*h.Healthy || !*h.Served || h.Status != "ok" || *h.Restarts != 0 {
		t.Errorf("hls health %s, want healthy and served while the pipelines run", body)
	}
	if _, err := time.ParseInLocation("2006-01-02 15:04:05", h.Time, time.Local); err != nil {
		t.Errorf("timestamp %q: %v", h.Time, err)
	}
	if code, _ := call(e.srv, "viewer", "POST", "/api/health/hls", "{}"); code != 405 {
		t.Errorf("POST /api/health/hls: %d, want 405", code)
	}
}
