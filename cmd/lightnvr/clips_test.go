package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/testkit"
)

// The real daemon: a detection-only stream records nothing until
// POST /api/motion/trigger, then exactly one detection clip from the
// pre-buffer before the trigger to post-buffer + grace after it; switching
// the stream to annotation mode over the API starts continuous segments
// without a restart.
func TestDaemonMotionTriggerClipAndModeSwitch(t *testing.T) {
	d, p := startDetectionStream(t, 3)
	// Ingest running for a while (the ring fills) and still nothing recorded.
	time.Sleep(10 * time.Second)
	if recs := p.recordings("door"); len(recs) != 0 {
		t.Fatalf("no trigger yet, but %d recordings", len(recs))
	}

	trigger := time.Now()
	code, b := p.call("POST", "/api/motion/trigger", map[string]any{"stream": "door", "action": "pulse", "duration_ms": 1000,
		"tags": []string{"alarm", " zone-3 ", "alarm", ""}})
	if code != http.StatusAccepted || !strings.Contains(string(b), `"recording_triggered":true`) ||
		!strings.Contains(string(b), `"tags_applied":2`) {
		t.Fatalf("trigger: %d %s", code, b)
	}
	last := trigger.Add(time.Second) // the pulse is held 1 s
	clip := p.waitRecording("door", 30*time.Second, func(r recordingRow) bool { return r.IsComplete })
	time.Sleep(2 * time.Second) // a second clip would have opened by now
	if recs := p.recordings("door"); len(recs) != 1 {
		t.Fatalf("%d recordings after one trigger, want one clip", len(recs))
	}
	store := testkit.OpenDB(t, filepath.Join(d.Dir, "lightnvr.db"))
	rec, err := db.GetRecording(context.Background(), store, clip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.TriggerType != "detection" || !strings.HasPrefix(filepath.Base(rec.FilePath), "detection_") {
		t.Fatalf("clip %s: trigger_type %q", rec.FilePath, rec.TriggerType)
	}
	if tags, err := db.RecordingTagsOf(context.Background(), store, []int64{clip.ID}); err != nil ||
		strings.Join(tags[clip.ID], ",") != "alarm,zone-3" {
		t.Fatalf("clip tags %v %v, want the trigger's alarm,zone-3", tags[clip.ID], err)
	}
	if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
	}
	ix, err := db.GetRecordingIndex(context.Background(), store, clip.ID)
	if err != nil {
		t.Fatal(err)
	}
	start := time.UnixMicro(ix.StartUS)
	end := start.Add(time.Duration(ix.DurationUS) * time.Microsecond)
	wantStart, wantEnd := trigger.Add(-3*time.Second), last.Add(2*time.Second+2*time.Second)
	t.Logf("clip starts %s before the trigger (pre-buffer 3 s), ends %s after the last trigger (post 2 s + grace 2 s)",
		trigger.Sub(start).Round(time.Millisecond), end.Sub(last).Round(time.Millisecond))
	if start.After(wantStart.Add(time.Second)) {
		t.Errorf("clip starts %s after trigger − pre-buffer", start.Sub(wantStart))
	}
	if dd := end.Sub(wantEnd); dd > time.Second || dd < -time.Second {
		t.Errorf("clip ends %s from last trigger + post-buffer + grace", dd)
	}

	pid := p.Cmd.Process.Pid
	if code, b := p.call("PUT", "/api/streams/door", map[string]any{"record": true}); code/100 != 2 {
		t.Fatalf("switch to annotation mode: %d %s", code, b)
	}
	seg := p.waitRecording("door", 30*time.Second, func(r recordingRow) bool { return r.ID != clip.ID })
	if rec, err := db.GetRecording(context.Background(), store, seg.ID); err != nil || rec.TriggerType != "scheduled" {
		t.Fatalf("after the switch: %+v %v, want a continuous segment", rec, err)
	}
	// In annotation mode a trigger's tags go on the open segment.
	if code, b := p.call("POST", "/api/motion/trigger", map[string]any{"stream": "door", "action": "pulse", "tags": []string{"pir"}}); code != http.StatusAccepted || !strings.Contains(string(b), `"tags_applied":1`) {
		t.Fatalf("trigger in annotation mode: %d %s", code, b)
	}
	if tags, err := db.RecordingTagsOf(context.Background(), store, []int64{seg.ID}); err != nil || strings.Join(tags[seg.ID], ",") != "pir" {
		t.Fatalf("segment tags %v %v, want pir", tags[seg.ID], err)
	}
	if p.Exited() || p.Cmd.Process.Pid != pid {
		t.Fatal("the daemon restarted for a mode switch")
	}
}

// The real daemon killed with SIGKILL in the middle of an event clip: the clip
// plays up to its last whole part and its row is repaired at the next start
// (complete, still a detection clip); the pre-event ring file the killed run
// left behind does not stop the stream from coming up, and a new trigger
// records a new playable clip.
func TestDaemonKilledMidEventClip(t *testing.T) {
	d, p := startDetectionStream(t, 2)
	store := testkit.OpenDB(t, filepath.Join(d.Dir, "lightnvr.db"))
	ctx := context.Background()
	// Held until stopped: the clip is open when the daemon dies.
	if code, b := p.call("POST", "/api/motion/trigger", map[string]any{"stream": "door", "action": "start"}); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, b)
	}
	open := p.waitRecording("door", 30*time.Second, func(r recordingRow) bool { return !r.IsComplete })
	rec, err := db.GetRecording(ctx, store, open.ID)
	if err != nil {
		t.Fatal(err)
	}
	waitFragments(t, rec.FilePath, 3)
	ring := filepath.Join(d.Dir, "recordings", "prebuffer", "door.ring")
	if _, err := os.Stat(ring); err != nil {
		t.Fatalf("no pre-event ring file while the clip is open: %v", err)
	}

	if err := p.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.Wait(t, 10*time.Second)
	// The killed run's ring is still there for the next start to meet.
	if _, err := os.Stat(ring); err != nil {
		t.Fatalf("ring file gone after SIGKILL: %v", err)
	}
	if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe of the killed clip %s: duration %.3f, %s", rec.FilePath, pr.Duration(), pr.Errors)
	}

	p = start(t, d)
	fixed, err := db.GetRecording(ctx, store, open.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !fixed.IsComplete || fixed.TriggerType != "detection" || fixed.SizeBytes <= 0 {
		t.Fatalf("clip cut by SIGKILL after restart: complete %v, trigger_type %q, %d bytes",
			fixed.IsComplete, fixed.TriggerType, fixed.SizeBytes)
	}
	if dur := p.probeDownload(fixed.ID, fixed.SizeBytes); dur <= 0 {
		t.Fatalf("repaired clip plays %.2f s", dur)
	}

	// The stream comes up over the old ring and records the next event.
	code, b := p.call("POST", "/api/motion/trigger", map[string]any{"stream": "door", "action": "pulse", "duration_ms": 1000})
	if code != http.StatusAccepted || !strings.Contains(string(b), `"recording_triggered":true`) {
		t.Fatalf("trigger after restart: %d %s", code, b)
	}
	next := p.waitRecording("door", 60*time.Second, func(r recordingRow) bool { return r.ID != open.ID && r.IsComplete })
	nrec, err := db.GetRecording(ctx, store, next.ID)
	if err != nil {
		t.Fatal(err)
	}
	if nrec.TriggerType != "detection" {
		t.Fatalf("clip after restart: trigger_type %q", nrec.TriggerType)
	}
	if pr := testkit.FFprobe(t, nrec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: duration %.3f, %s", nrec.FilePath, pr.Duration(), pr.Errors)
	}
}

// startDetectionStream starts a camera and the daemon with a detection-only
// stream "door" on it: pre-buffer pre seconds, post-buffer 2 s.
func startDetectionStream(t *testing.T, pre int) (*testkit.Daemon, *daemonProc) {
	t.Helper()
	cam, d, p := startWithCamera(t)
	stream := map[string]any{"name": "door", "url": cam.URL(), "record": false, "detection_based_recording": true,
		"pre_detection_buffer": pre, "post_detection_buffer": 2, "segment_duration": 60, "record_audio": false}
	if code, b := p.call("POST", "/api/streams", stream); code/100 != 2 {
		t.Fatalf("add stream: %d %s", code, b)
	}
	return d, p
}

// waitFragments waits until the fMP4 file at path holds n movie fragments.
func waitFragments(t *testing.T, path string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && bytes.Count(b, []byte("moof")) >= n {
			return
		}
	}
	t.Fatalf("%s: fewer than %d fragments within 30 s", path, n)
}
