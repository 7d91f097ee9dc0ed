package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/testkit"
)

type healthBody struct {
	Healthy bool   `json:"healthy"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Streams struct {
		Total, Up, Degraded, Down int
	} `json:"streams"`
	StreamsDetail []healthStreamDetail `json:"streams_detail"`
}

// newRecordingEnv is the daemon's stream stack with recording pipelines.
func newRecordingEnv(t *testing.T) *streamEnv { return newStreamEnv(t, true) }

func (e *streamEnv) health(t *testing.T, query string) healthBody {
	t.Helper()
	code, body := call(e.srv, "admin", "GET", "/api/health"+query, "")
	var h healthBody
	if code != 200 || json.Unmarshal(body, &h) != nil {
		t.Fatalf("health: %d %s", code, body)
	}
	return h
}

func (h healthBody) stream(t *testing.T, name string) healthStreamDetail {
	t.Helper()
	for _, d := range h.StreamsDetail {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no %s in streams_detail: %+v", name, h.StreamsDetail)
	return healthStreamDetail{}
}

// A recording stream's health carries what the pipeline and the manager
// measure: its configured fps, how long it took to connect, the gaps of its
// recording, and with ?sparklines=1 the history of fps and bitrate.
func TestHealthStreamDetail(t *testing.T) {
	e := newRecordingEnv(t)
	if code, body := call(e.srv, "admin", "POST", "/api/streams", `{"name":"yard","url":"`+e.cam.URL()+`"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var d healthStreamDetail
	testkit.WaitFor(t, 30*time.Second, "yard up and recording", func() bool {
		d = e.health(t, "").stream(t, "yard")
		return d.Status == "up" && d.LastFrameTS > 0 && d.FPS > 0 && d.RecordingActive
	})
	// configured_fps is the stream's fps setting (probed from the camera
	// when it connects), as GET /api/streams/{name} has it.
	_, body := call(e.srv, "admin", "GET", "/api/streams/yard", "")
	var row struct {
		FPS int `json:"fps"`
		// The pipeline runs, so lightnvr serves its live HLS.
		HLS *bool `json:"go2rtc_hls_available"`
	}
	if err := json.Unmarshal(body, &row); err != nil || row.FPS <= 0 || d.ConfiguredFPS != row.FPS {
		t.Errorf("configured_fps %d, want the stream's fps %d (%v)", d.ConfiguredFPS, row.FPS, err)
	}
	if row.HLS == nil || !*row.HLS {
		t.Errorf("go2rtc_hls_available %v of a running stream, want true: /hls/ serves it", row.HLS)
	}
	if d.ConnectionLatency <= 0 {
		t.Errorf("connection_latency_ms missing or 0, want the time from start to first frame")
	}
	if d.RecordingGaps != 0 {
		t.Errorf("recording_gaps %d, want 0 for a recording without holes", d.RecordingGaps)
	}
	if d.BitrateBPS <= 0 || d.FramesTotal <= 0 {
		t.Errorf("bitrate %d frames %d", d.BitrateBPS, d.FramesTotal)
	}
	if d.SparklineFPS != nil {
		t.Errorf("sparklines without ?sparklines=1: %v", d.SparklineFPS)
	}
	// The history holds one sample per tick; three ticks, three samples.
	for range 3 {
		e.srv.system.sampleHistory()
	}
	d = e.health(t, "?sparklines=1").stream(t, "yard")
	if len(d.SparklineFPS) != 3 || len(d.SparklineBitrate) != 3 || d.SparklineFPS[2] <= 0 || d.SparklineBitrate[2] <= 0 {
		t.Errorf("sparklines fps %v bitrate %v, want three measured samples", d.SparklineFPS, d.SparklineBitrate)
	}
	if code, body := call(e.srv, "admin", "GET", "/api/health?sparklines=perhaps", ""); code != 400 || !strings.Contains(string(body), "sparklines") {
		t.Errorf("bad sparklines flag: %d %s", code, body)
	}
}

// The ring is fixed: it keeps the newest historyLen samples, oldest first,
// and forgets streams that are gone.
func TestStreamHistoryRing(t *testing.T) {
	h := newStreamHistory()
	for i := range historyLen + 5 {
		h.record([]healthStreamDetail{{Name: "a", FPS: float64(i), BitrateBPS: int64(i)}})
	}
	fps, br := h.series("a")
	if len(fps) != historyLen || fps[0] != 5 || fps[historyLen-1] != historyLen+4 || br[0] != 5 {
		t.Fatalf("ring after %d samples: %v", historyLen+5, fps)
	}
	h.record([]healthStreamDetail{{Name: "b"}})
	if fps, _ := h.series("a"); fps != nil {
		t.Errorf("a removed stream keeps its history: %v", fps)
	}
}

// A stream without video past its grace makes the daemon unhealthy; within
// it, the daemon is degraded but healthy.
func TestHealthStreamFailingBeyondGrace(t *testing.T) {
	e := newRecordingEnv(t)
	if code, body := call(e.srv, "admin", "POST", "/api/streams", `{"name":"gone","url":"`+testkit.RefusingURL(t)+`"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	h := e.health(t, "")
	if !h.Healthy || h.stream(t, "gone").Status == "up" {
		t.Fatalf("a stream failing within its grace: healthy %v, %+v", h.Healthy, h.stream(t, "gone"))
	}
	e.srv.system.streamGrace = 0
	if h = e.health(t, ""); h.Healthy || h.Status != "critical" {
		t.Fatalf("a stream failing beyond its grace: healthy %v status %q", h.Healthy, h.Status)
	}
	if !strings.HasPrefix(h.Reason, "stream gone has delivered no video") {
		t.Errorf("reason %q, want the stream that failed", h.Reason)
	}
	// A reboot does not bring a camera back: the watchdog's verdict ignores it.
	if why := e.srv.Broken(context.Background()); why != "" {
		t.Fatalf("a dead camera counts as broken for the watchdog: %s", why)
	}
}

// A database that cannot take a write for longer than its grace makes the
// daemon unhealthy, though it still answers reads.
func TestHealthFalseWhenDatabaseNotWritable(t *testing.T) {
	e := newAuthEnv(t, envOpts{})
	e.srv.system.dbCheck.wait = 100 * time.Millisecond
	if ok, _ := publicHealthOf(t, e); !ok {
		t.Fatal("fresh daemon unhealthy")
	}
	conn, err := testkit.SQL(t, e.db.Path()).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if ok, st := publicHealthOf(t, e); !ok {
		t.Fatalf("database write-locked for a moment: healthy=%v status=%q, want healthy within the grace", ok, st)
	}
	e.srv.system.dbCheck.grace = 50 * time.Millisecond
	time.Sleep(60 * time.Millisecond)
	if ok, st := publicHealthOf(t, e); ok || st != "critical" {
		t.Fatalf("database write-locked past the grace: healthy=%v status=%q", ok, st)
	}
	if why := e.srv.Broken(context.Background()); !strings.HasPrefix(why, "database") {
		t.Fatalf("a write-locked database is not broken for the watchdog: %q", why)
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if ok, _ := publicHealthOf(t, e); !ok {
		t.Fatal("unhealthy after the lock was released")
	}
}

// A data disk in emergency makes the daemon unhealthy.
func TestHealthFalseInStorageEmergency(t *testing.T) {
	e := newAuthEnv(t, envOpts{cfg: func(c *config.Config) {
		// Any real disk is fuller than this: emergency from the first reading.
		c.Storage.PressureWarningPct, c.Storage.PressureCriticalPct, c.Storage.PressureEmergencyPct = 99.999, 99.998, 99.997
	}})
	if ok, _ := publicHealthOf(t, e); !ok {
		t.Fatal("unhealthy before the disk was read")
	}
	if _, err := e.srv.system.storage.RunPass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, st := publicHealthOf(t, e); ok || st != "critical" {
		t.Fatalf("storage in emergency: healthy=%v status=%q", ok, st)
	}
	if why := e.srv.Broken(context.Background()); why != "" {
		t.Fatalf("a full disk counts as broken for the watchdog (a reboot does not empty it): %s", why)
	}
}
