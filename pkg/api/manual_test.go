package api

import (
	"context"
	"strconv"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// newManualEnv runs the recorder's pipelines for stream name, which records
// continuously when continuous.
func newManualEnv(t *testing.T, name string, continuous bool) *streamEnv {
	t.Helper()
	e := newStreamEnv(t, true)
	body := `{"name":` + strconv.Quote(name) + `,"url":` + strconv.Quote(e.cam.URL()) + `,"record":` + strconv.FormatBool(continuous) + `}`
	if code, b := e.do(t, "admin", "POST", "/api/streams", body); code != 201 {
		t.Fatalf("create %s: %d %s", name, code, b)
	}
	testkit.WaitFor(t, 20*time.Second, name+" running", func() bool { return e.mgr.StatusOf(name).State == streams.StateActive })
	return e
}

func (e *streamEnv) recordingState(t *testing.T, role, name string) map[string]any {
	t.Helper()
	code, b := e.do(t, role, "GET", "/api/streams/"+name+"/recording", "")
	if code != 200 {
		t.Fatalf("recording state of %s: %d %s", name, code, b)
	}
	return decodeObj(t, b)
}

// TestManualRecordingAPI drives the live page's record button: state,
// start, the file on disk with capture_method manual, stop.
func TestManualRecordingAPI(t *testing.T) {
	testkit.Need(t, "ffprobe")
	e := newManualEnv(t, "desk", false)
	st := e.recordingState(t, "viewer", "desk")
	if st["state"] != "idle" || st["recording_active"] != false || st["capture_method"] != nil || st["recording_id"] != nil ||
		st["manual_control_allowed"] != false || st["manual_control_reason"] != "read_only" {
		t.Fatalf("idle state as a viewer: %v", st)
	}
	if st := e.recordingState(t, "admin", "desk"); st["manual_control_allowed"] != true || st["manual_control_reason"] != nil {
		t.Fatalf("idle state as an admin: %v", st)
	}
	code, b := e.do(t, "admin", "POST", "/api/streams/desk/recording", `{"action":"start"}`)
	if got := decodeObj(t, b); code != 202 || got["success"] != true || got["state"] != "starting" || got["action"] != "start" || got["stream"] != "desk" {
		t.Fatalf("start: %d %s", code, b)
	}
	testkit.WaitFor(t, 20*time.Second, "the manual recording on disk", func() bool {
		st = e.recordingState(t, "admin", "desk")
		return st["state"] == "recording"
	})
	if st["capture_method"] != "manual" || st["recording_active"] != true || st["recording_id"] == nil {
		t.Fatalf("recording state: %v", st)
	}
	id := int64(st["recording_id"].(float64))
	time.Sleep(2 * time.Second) // a few frames in the file
	code, b = e.do(t, "admin", "POST", "/api/streams/desk/recording", `{"action":"stop"}`)
	if got := decodeObj(t, b); code != 200 || got["state"] != "idle" || got["action"] != "stop" {
		t.Fatalf("stop: %d %s", code, b)
	}
	if st := e.recordingState(t, "admin", "desk"); st["state"] != "idle" {
		t.Fatalf("after the stop: %v", st)
	}
	var rec *db.Recording
	testkit.WaitFor(t, 20*time.Second, "the manual recording complete", func() bool {
		var err error
		rec, err = db.GetRecording(context.Background(), e.db, id)
		return err == nil && rec.IsComplete
	})
	if pr := testkit.FFprobe(t, rec.FilePath); pr.Errors != "" || pr.Duration() <= 0 {
		t.Fatalf("ffprobe %s: %.3f s, %s", rec.FilePath, pr.Duration(), pr.Errors)
	}
	code, b = e.do(t, "admin", "GET", "/api/recordings/"+strconv.FormatInt(id, 10), "")
	if got := decodeObj(t, b); code != 200 || got["capture_method"] != "manual" || got["trigger_type"] != "manual" {
		t.Fatalf("the manual recording's row: %d %s", code, b)
	}
}

// TestManualRecordingRefusals: a continuous stream refuses manual control
// (409 and the reason), bad input is 400, an unknown stream 404, a viewer 403.
func TestManualRecordingRefusals(t *testing.T) {
	e := newManualEnv(t, "yard", true)
	if st := e.recordingState(t, "admin", "yard"); st["manual_control_allowed"] != false || st["manual_control_reason"] != "continuous_recording" {
		t.Fatalf("continuous stream: %v", st)
	}
	for _, c := range []struct {
		role, uri, body string
		want            int
	}{
		{"admin", "/api/streams/yard/recording", `{"action":"start"}`, 409},
		{"admin", "/api/streams/yard/recording", `{"action":"pause"}`, 400},
		{"admin", "/api/streams/yard/recording", ``, 400},
		{"admin", "/api/streams/nothing/recording", `{"action":"start"}`, 404},
		{"viewer", "/api/streams/yard/recording", `{"action":"stop"}`, 403},
	} {
		if code, b := e.do(t, c.role, "POST", c.uri, c.body); code != c.want {
			t.Errorf("POST %s %s as %s: %d %s, want %d", c.uri, c.body, c.role, code, b, c.want)
		}
	}
	if code, b := e.do(t, "admin", "GET", "/api/streams/nothing/recording", ""); code != 404 {
		t.Errorf("state of an unknown stream: %d %s", code, b)
	}
}
