package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"lightnvr/pkg/auth"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/streams"
	"lightnvr/pkg/testkit"
)

// streamTestAuth is the test's auth boundary: the X-Test-Role header names the role.
type streamTestAuth struct{}

func (streamTestAuth) Authenticate(ctx *fasthttp.RequestCtx) (*auth.Principal, error) {
	switch string(ctx.Request.Header.Peek("X-Test-Role")) {
	case "admin":
		return &auth.Principal{UserID: 1, Username: "admin", Role: auth.RoleAdmin}, nil
	case "viewer":
		return &auth.Principal{UserID: 2, Username: "viewer", Role: auth.RoleViewer}, nil
	}
	return nil, nil
}

type streamEnv struct {
	srv *Server
	db  *db.DB
	sup *go2rtc.Supervisor
	mgr *streams.Manager
	cam *testkit.Camera
}

// newStreamEnv serves the streams of a real go2rtc and stream manager; with
// recording, the streams run the recorder's pipelines and the server
// reports their ingest and go2rtc's state, as the daemon wires them.
func newStreamEnv(t *testing.T, recording ...bool) *streamEnv {
	t.Helper()
	cam := testkit.StartCamera(t)
	d := testkit.OpenDB(t, "")
	cfg := config.Default()
	cfg.Storage.Path = t.TempDir()
	cfg.Streams.MaxStreams = 3
	deps := Deps{Config: cfg, DB: d, Logger: quietLog, Auth: streamTestAuth{}}
	var pipelines []streams.PipelineFactory
	if len(recording) > 0 && recording[0] {
		deps.Ingest = streams.NewRecording(streams.RecordingOptions{DB: d, StorageDir: cfg.Storage.Path, Logger: quietLog})
		pipelines = append(pipelines, deps.Ingest.Factory())
	}
	sup, mgr := startStreamStack(t, d, pipelines...)
	deps.Streams = mgr
	if deps.Ingest != nil {
		deps.Go2RTCStatus = sup.Status
	}
	srv, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return &streamEnv{srv: srv, db: d, sup: sup, mgr: mgr, cam: cam}
}

func (e *streamEnv) do(t *testing.T, role, method, uri, body string) (int, []byte) {
	t.Helper()
	return call(e.srv, role, method, uri, body)
}

// snapshot is the state that must not change after a refused request.
func (e *streamEnv) snapshot(t *testing.T) string {
	t.Helper()
	rows, err := db.ListStreams(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows {
		j, _ := json.Marshal(r)
		b.Write(j)
	}
	list, err := e.sup.Client().Streams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for name, si := range list {
		b.WriteString(name)
		for _, p := range si.Producers {
			b.WriteString(p.URL)
		}
	}
	return b.String()
}

func TestStreamAPIBadInput(t *testing.T) {
	e := newStreamEnv(t)
	if code, body := e.do(t, "admin", "POST", "/api/streams", `{"name":"cam1","url":"`+e.cam.URL()+`"}`); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	before := e.snapshot(t)
	long := strings.Repeat("a", 64)
	cases := []struct {
		name, method, uri, body string
		code                    int
		msg                     string
	}{
		{"empty body", "POST", "/api/streams", "", 400, "empty"},
		{"bad json", "POST", "/api/streams", `{"name":`, 400, "invalid JSON"},
		{"unknown field", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","colour":1}`, 400, "unknown field"},
		{"wrong type", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","priority":"high"}`, 400, "priority"},
		{"no name", "POST", "/api/streams", `{"url":"rtsp://h/x"}`, 400, "name is required"},
		{"dot name", "POST", "/api/streams", `{"name":".hidden","url":"rtsp://h/x"}`, 400, "invalid stream name"},
		{"space name", "POST", "/api/streams", `{"name":"a b","url":"rtsp://h/x"}`, 400, "invalid stream name"},
		{"slash name", "POST", "/api/streams", `{"name":"a/b","url":"rtsp://h/x"}`, 400, "invalid stream name"},
		{"long name", "POST", "/api/streams", `{"name":"` + long + `","url":"rtsp://h/x"}`, 400, "limit is 63"},
		{"no url", "POST", "/api/streams", `{"name":"x"}`, 400, "url is required"},
		{"no scheme", "POST", "/api/streams", `{"name":"x","url":"camera.local"}`, 400, "without a scheme"},
		{"exec url", "POST", "/api/streams", `{"name":"x","url":"exec:rm"}`, 400, "not allowed"},
		{"exec override", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","go2rtc_source_override":"- exec:sh\n- rtsp://h/y"}`, 400, "not allowed"},
		{"unsupported scheme", "POST", "/api/streams", `{"name":"x","url":"nosuch://h/x"}`, 400, "not allowed"},
		{"priority range", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","priority":11}`, 400, "priority must be between 1 and 10"},
		{"threshold range", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","detection_threshold":150}`, 400, "detection_threshold"},
		{"retention range", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","retention_days":400}`, 400, "retention_days"},
		{"schedule length", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","recording_schedule":[true]}`, 400, "168 entries"},
		{"publish scheme", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","publish_url":"http://h/x"}`, 400, "publish_url must use rtmp"},
		{"filter value", "POST", "/api/streams", `{"name":"x","url":"rtsp://h/x","detection_object_filter":"maybe"}`, 400, "detection_object_filter"},
		{"duplicate", "POST", "/api/streams", `{"name":"cam1","url":"rtsp://h/x"}`, 409, "already exists"},
		{"get unknown", "GET", "/api/streams/nope", "", 404, "not found"},
		{"full unknown", "GET", "/api/streams/nope/full", "", 404, "not found"},
		{"put unknown", "PUT", "/api/streams/nope", `{"priority":3}`, 404, "not found"},
		{"delete unknown", "DELETE", "/api/streams/nope", "", 404, "not found"},
		{"refresh unknown", "POST", "/api/streams/nope/refresh", "", 404, "not found"},
		{"rename", "PUT", "/api/streams/cam1", `{"name":"cam2"}`, 400, "renamed"},
		{"put bad value", "PUT", "/api/streams/cam1", `{"url":"exec:sh"}`, 400, "not allowed"},
		{"put wrong type", "PUT", "/api/streams/cam1", `{"enabled":"yes"}`, 400, "enabled"},
		{"delete bad flag", "DELETE", "/api/streams/cam1?permanent=maybe", "", 400, "permanent"},
		{"test no url", "POST", "/api/streams/test", `{"protocol":0}`, 400, "url is required"},
		{"test bad protocol", "POST", "/api/streams/test", `{"url":"rtsp://h/x","protocol":7}`, 400, "protocol"},
		{"viewer create", "POST", "/api/streams", `{"name":"v","url":"rtsp://h/x"}`, 403, "Forbidden"},
	}
	for _, c := range cases {
		role := "admin"
		if strings.HasPrefix(c.name, "viewer") {
			role = "viewer"
		}
		code, body := e.do(t, role, c.method, c.uri, c.body)
		var reply struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(body, &reply); err != nil || reply.Error == "" {
			t.Errorf("%s: reply is not {\"error\":...}: %s", c.name, body)
		}
		if code != c.code || !strings.Contains(reply.Error, c.msg) {
			t.Errorf("%s: got %d %q, want %d containing %q", c.name, code, reply.Error, c.code, c.msg)
		}
		if after := e.snapshot(t); after != before {
			t.Fatalf("%s: refused request changed the database or go2rtc", c.name)
		}
	}
	// A probe that finds no video is an answer, as LightNVR gives it: 200
	// {success:false, message}, with the camera's password masked.
	refused := strings.Replace(testkit.RefusingURL(t), "rtsp://", "rtsp://me:s3cret@", 1)
	code, body := e.do(t, "admin", "POST", "/api/streams/test", `{"url":"`+refused+`"}`)
	var probe struct {
		Success *bool  `json:"success"`
		Message string `json:"message"`
	}
	if code != 200 || json.Unmarshal(body, &probe) != nil || probe.Success == nil || *probe.Success ||
		!strings.Contains(probe.Message, "stream test failed") || strings.Contains(probe.Message, "s3cret") {
		t.Errorf("test an unreachable camera: %d %s, want 200 {success:false, message} without the password", code, body)
	}
	if after := e.snapshot(t); after != before {
		t.Fatal("a failed stream test changed the database or go2rtc")
	}
	// Capacity: max_streams is 3.
	for _, n := range []string{"cam2", "cam3"} {
		if code, body := e.do(t, "admin", "POST", "/api/streams", `{"name":"`+n+`","url":"`+e.cam.URL()+`"}`); code != 201 {
			t.Fatalf("create %s: %d %s", n, code, body)
		}
	}
	if code, body := e.do(t, "admin", "POST", "/api/streams", `{"name":"cam4","url":"`+e.cam.URL()+`"}`); code != 409 ||
		!strings.Contains(string(body), "max_streams") {
		t.Fatalf("over capacity: %d %s", code, body)
	}
}

func TestStreamAPILifecycle(t *testing.T) {
	e := newStreamEnv(t)
	camURL := strings.Replace(e.cam.URL(), "rtsp://", "rtsp://user:pa55@", 1)
	code, body := e.do(t, "admin", "POST", "/api/streams", `{"name":"front.door-1","url":"`+camURL+`","priority":8,"detection_threshold":40}`)
	if code != 201 || string(body) != `{"success":true}` {
		t.Fatalf("create: %d %s", code, body)
	}
	if _, ok := mustStreams(t, e)["front.door-1"]; !ok {
		t.Fatal("created stream not in go2rtc")
	}
	deadline := time.Now().Add(20 * time.Second)
	var got streamJSON
	for {
		code, body = e.do(t, "admin", "GET", "/api/streams/front.door-1", "")
		if code != 200 {
			t.Fatalf("get: %d %s", code, body)
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Status == "Running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream never Running: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.Priority != 8 || got.DetectionThreshold != 40 || got.URL != camURL || len(got.RecordingSchedule) != 168 ||
		!got.Enabled || got.SegmentDuration != 30 {
		t.Fatalf("stream object: %+v", got)
	}
	// List is a bare array; viewers do not see credentials.
	code, body = e.do(t, "viewer", "GET", "/api/streams", "")
	var list []streamJSON
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 {
		t.Fatalf("list: %d %s", code, body)
	}
	if strings.Contains(string(body), "pa55") {
		t.Fatalf("viewer sees the camera password: %s", body)
	}
	code, body = e.do(t, "admin", "GET", "/api/streams/front.door-1/full", "")
	var full struct {
		Stream streamJSON `json:"stream"`
	}
	if code != 200 || json.Unmarshal(body, &full) != nil || full.Stream.Name != "front.door-1" {
		t.Fatalf("full: %d %s", code, body)
	}
	// The UI sends back the object it read: read-only fields are accepted.
	got.Priority = 2
	got.URL = e.cam.URL() + "?video"
	upd, _ := json.Marshal(got)
	if code, body = e.do(t, "admin", "PUT", "/api/streams/front.door-1", string(upd)); code != 202 {
		t.Fatalf("update: %d %s", code, body)
	}
	if p := mustStreams(t, e)["front.door-1"].Producers; len(p) != 1 || p[0].URL != e.cam.URL()+"?video" {
		t.Fatalf("update not in go2rtc: %+v", p)
	}
	if code, body = e.do(t, "admin", "POST", "/api/streams/front.door-1/refresh", ""); code != 202 {
		t.Fatalf("refresh: %d %s", code, body)
	}
	if code, body = e.do(t, "admin", "POST", "/api/streams/test", `{"url":"`+e.cam.URL()+`"}`); code != 200 ||
		!strings.Contains(string(body), `"codec":"h264"`) || !strings.Contains(string(body), `"width":320`) {
		t.Fatalf("test: %d %s", code, body)
	}
	// DELETE answers 200 once the stream is gone: out of go2rtc and
	// stopped, its row kept but disabled (soft delete).
	code, body = e.do(t, "admin", "DELETE", "/api/streams/front.door-1", "")
	expectDeleted(t, code, body, false)
	if _, ok := mustStreams(t, e)["front.door-1"]; ok {
		t.Fatal("disabled stream still in go2rtc")
	}
	if st := e.mgr.StatusOf("front.door-1"); st.State != streams.StateInactive {
		t.Fatalf("soft-deleted stream is %s, want inactive", st.State)
	}
	code, body = e.do(t, "admin", "GET", "/api/streams/front.door-1", "")
	if code != 200 || json.Unmarshal(body, &got) != nil || got.Enabled {
		t.Fatalf("soft-deleted stream: %d %s, want 200 and enabled false", code, body)
	}
	if code, body = e.do(t, "admin", "PUT", "/api/streams/front.door-1", `{"enable_disabled":true}`); code != 202 {
		t.Fatalf("re-enable: %d %s", code, body)
	}
	if _, ok := mustStreams(t, e)["front.door-1"]; !ok {
		t.Fatal("re-enabled stream not in go2rtc")
	}
	code, body = e.do(t, "admin", "DELETE", "/api/streams/front.door-1?permanent=true", "")
	expectDeleted(t, code, body, true)
	if code, _ = e.do(t, "admin", "GET", "/api/streams/front.door-1", ""); code != 404 {
		t.Fatalf("hard-deleted stream answers %d", code)
	}
	if len(mustStreams(t, e)) != 0 {
		t.Fatal("go2rtc keeps a deleted stream")
	}
}

// expectDeleted checks LightNVR's answer to DELETE /api/streams/{name}.
func expectDeleted(t *testing.T, code int, body []byte, permanent bool) {
	t.Helper()
	var r struct {
		Success   *bool  `json:"success"`
		Permanent *bool  `json:"permanent"`
		Status    string `json:"status"`
		Message   string `json:"message"`
	}
	if code != 200 || json.Unmarshal(body, &r) != nil || r.Success == nil || !*r.Success || r.Permanent == nil ||
		*r.Permanent != permanent || r.Message == "" {
		t.Fatalf("delete (permanent=%v): %d %s, want 200 {success:true, permanent:%v, message}", permanent, code, body, permanent)
	}
}

func mustStreams(t *testing.T, e *streamEnv) map[string]go2rtc.StreamInfo {
	t.Helper()
	l, err := e.sup.Client().Streams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}
