package api

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"lightnvr/pkg/db"
	"lightnvr/pkg/storage"
)

func TestStorageRoutes(t *testing.T) {
	// Not wired: 503, not a crash.
	bare := newRecEnvWith(t, envOpts{deps: func(d *Deps) { d.Storage = nil }})
	if r := bare.as("viewer", req{method: "GET", path: "/api/storage/health"}); r.status != 503 {
		t.Fatalf("without controller: %d %s", r.status, r.body)
	}

	var c *storage.Controller
	e := newRecEnvWith(t, envOpts{deps: func(d *Deps) { c = d.Storage }})
	if _, err := e.rawSQL().Exec(`INSERT INTO streams (name, url, retention_days, detection_retention_days, max_storage_mb)
		VALUES ('cam', 'rtsp://127.0.0.1/cam', -1, 14, 0)`); err != nil {
		t.Fatal(err)
	}
	e.addFile("mp4/cam/2026/01/01/recording_20260101_000000.mp4", make([]byte, 1000))
	if _, err := c.Heartbeat(); err != nil {
		t.Fatal(err)
	}

	if r := e.do(req{method: "GET", path: "/api/storage/health"}); r.status != 401 {
		t.Errorf("anonymous health: %d", r.status)
	}
	r := e.as("viewer", req{method: "GET", path: "/api/storage/health"})
	h := r.json(t)
	if r.status != 200 || h["pressure_level"] == nil || h["total_space_bytes"].(float64) <= 0 || h["unmounted"] != false {
		t.Fatalf("health: %d %s", r.status, r.body)
	}

	if r := e.as("viewer", req{method: "POST", path: "/api/storage/cleanup", body: `{"aggressive":true}`,
		contentType: "application/json"}); r.status != 403 {
		t.Errorf("cleanup by a viewer: %d %s", r.status, r.body)
	}
	if r := e.as("user", req{method: "POST", path: "/api/storage/cleanup", body: `{"aggressive":true}`,
		contentType: "application/json"}); r.status != 200 {
		t.Errorf("cleanup: %d %s", r.status, r.body)
	}

	r = e.as("viewer", req{method: "GET", path: "/api/streams/cam/retention"})
	if got := r.json(t); r.status != 200 || got["retention_days"] != -1.0 || got["detection_retention_days"] != 14.0 {
		t.Fatalf("get retention: %d %s", r.status, r.body)
	}
	put := func(role, body string) *resp {
		return e.as(role, req{method: "PUT", path: "/api/streams/cam/retention", body: body, contentType: "application/json"})
	}
	if r := put("viewer", `{"retention_days":7}`); r.status != 403 {
		t.Errorf("viewer changed retention: %d", r.status)
	}
	// The stream object's own rules apply (one table for both routes), and
	// only its retention keys may be set here.
	for _, bad := range []string{`{"retention_days":-2}`, `{"max_storage_mb":-1}`, `{"retention_days":7,"x":1}`, `{"retention_days":"7"}`,
		`{"retention_days":366}`, `{"url":"rtsp://127.0.0.1/other"}`, `{"retention_days":7,"enabled":false}`} {
		if r := put("user", bad); r.status != 400 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	if r := put("user", `{"retention_days":7,"max_storage_mb":5}`); r.status != 200 {
		t.Fatalf("put retention: %d %s", r.status, r.body)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/streams/cam/retention"})
	if got := r.json(t); got["retention_days"] != 7.0 || got["detection_retention_days"] != 14.0 || got["max_storage_mb"] != 5.0 {
		t.Fatalf("after put: %s", r.body)
	}
	r = e.as("admin", req{method: "GET", path: "/api/streams/cam"})
	if got := r.json(t); got["url"] != "rtsp://127.0.0.1/cam" || got["enabled"] != true || got["retention_days"] != 7.0 {
		t.Fatalf("stream after retention put: %s", r.body)
	}
	if r := e.as("viewer", req{method: "GET", path: "/api/streams/nope/retention"}); r.status != 404 {
		t.Errorf("unknown stream: %d", r.status)
	}

	r = e.as("viewer", req{method: "GET", path: "/api/storage"})
	var sum storage.Summary
	if err := json.Unmarshal(r.body, &sum); err != nil || r.status != 200 {
		t.Fatalf("summary: %d %s", r.status, r.body)
	}
	if len(sum.Streams) != 1 || sum.Streams[0].Name != "cam" || sum.Streams[0].Count != 1 || sum.Streams[0].Bytes != 1000 ||
		sum.Streams[0].EffectiveRetentionDays != 7 || sum.Streams[0].MaxStorageMB != 5 {
		t.Errorf("summary streams: %+v", sum.Streams)
	}
}

// Every change to a recording goes through the storage controller: without
// one, protection and retention overrides are refused, not written past it.
func TestRecordingChangesNeedStorage(t *testing.T) {
	e := newRecEnvWith(t, envOpts{deps: func(d *Deps) { d.Storage = nil }})
	id, _ := e.addFile("mp4/cam/2026/01/02/recording_20260102_000000.mp4", make([]byte, 10))
	sid := strconv.FormatInt(id, 10)
	for _, r := range []req{
		{method: "PUT", path: "/api/recordings/" + sid + "/protect", body: `{"protected":true}`},
		{method: "POST", path: "/api/recordings/batch-protect", body: `{"ids":[` + sid + `],"protected":true}`},
		{method: "PUT", path: "/api/recordings/" + sid + "/retention", body: `{"retention_days":3}`},
	} {
		if got := e.as("admin", r); got.status != 503 {
			t.Errorf("%s %s without controller: %d %s", r.method, r.path, got.status, got.body)
		}
	}
	if it, err := db.GetRecordingItem(context.Background(), e.db, id); err != nil || it.Protected || it.RetentionOverrideDays != nil {
		t.Errorf("recording changed without the controller: %+v %v", it, err)
	}
}
