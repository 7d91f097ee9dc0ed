package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
)

func (e *recEnv) addStream(name string) {
	e.t.Helper()
	if err := db.InsertStream(context.Background(), e.db, db.NewStream(name, "rtsp://cam/"+name)); err != nil {
		e.t.Fatal(err)
	}
}

const triangle = `[{"x":0.1,"y":0.1},{"x":0.9,"y":0.1},{"x":0.5,"y":0.9}]`

func TestZonesRoundTrip(t *testing.T) {
	e := newRecEnv(t)
	e.addStream("front")
	e.addStream("back")
	body := `{"zones":[
		{"id":"z1","name":"Drive","enabled":false,"color":"#FF0000","polygon":` + triangle + `,"filter_classes":"Car, person","min_confidence":0.5},
		{"id":"z2","name":"Door","polygon":` + triangle + `},
		{"id":"","name":"skipped","polygon":` + triangle + `},
		{"id":"z3","name":"no polygon"}]}`
	r := e.as("user", req{method: "POST", path: "/api/streams/front/zones", body: body})
	if r.status != 200 || r.json(t)["count"] != 2.0 || r.json(t)["success"] != true {
		t.Fatalf("save zones: %d %s", r.status, r.body)
	}
	r = e.as("viewer", req{method: "GET", path: "/api/streams/front/zones"})
	var got struct{ Zones []map[string]any }
	if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 {
		t.Fatalf("get zones: %d %s", r.status, r.body)
	}
	if len(got.Zones) != 2 {
		t.Fatalf("zones %s", r.body)
	}
	z1, z2 := got.Zones[0], got.Zones[1]
	if z1["id"] != "z1" || z1["enabled"] != false || z1["color"] != "#FF0000" || z1["filter_classes"] != "car,person" ||
		z1["min_confidence"] != 0.5 || len(z1["polygon"].([]any)) != 3 {
		t.Errorf("z1 read back %v", z1)
	}
	if z2["enabled"] != true || z2["color"] != "#3b82f6" || z2["filter_classes"] != "" {
		t.Errorf("z2 defaults %v", z2)
	}
	if p := z1["polygon"].([]any)[2].(map[string]any); p["x"] != 0.5 || p["y"] != 0.9 {
		t.Errorf("polygon point %v", p)
	}
	// Ids are unique across streams.
	if r := e.as("admin", req{method: "POST", path: "/api/streams/back/zones", body: `{"zones":[{"id":"z1","name":"x","polygon":` + triangle + `}]}`}); r.status != 409 {
		t.Errorf("taken id: %d %s", r.status, r.body)
	}
	if r := e.as("api", req{method: "DELETE", path: "/api/streams/front/zones"}); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := e.as("viewer", req{method: "GET", path: "/api/streams/front/zones"}); string(r.body) != `{"zones":[]}` {
		t.Errorf("after delete: %s", r.body)
	}
	if r := e.as("viewer", req{method: "GET", path: "/api/streams/nope/zones"}); r.status != 404 {
		t.Errorf("unknown stream: %d", r.status)
	}
}

func TestZonesRejectBadInput(t *testing.T) {
	e := newRecEnv(t)
	e.addStream("front")
	zone := func(extra string) string {
		return `{"zones":[{"id":"z","name":"n","polygon":` + triangle + extra + `}]}`
	}
	many := make([]string, 17)
	for i := range many {
		many[i] = `{"id":"z` + string(rune('a'+i)) + `","name":"n","polygon":` + triangle + `}`
	}
	for name, body := range map[string]string{
		"no zones key":       `{}`,
		"17 zones":           `{"zones":[` + strings.Join(many, ",") + `]}`,
		"two points":         `{"zones":[{"id":"z","name":"n","polygon":[{"x":0,"y":0},{"x":1,"y":1}]}]}`,
		"point outside":      `{"zones":[{"id":"z","name":"n","polygon":[{"x":0,"y":0},{"x":1.5,"y":0},{"x":0,"y":1}]}]}`,
		"confidence above 1": zone(`,"min_confidence":1.5`),
		"bad colour":         zone(`,"color":"red"`),
		"unknown field":      zone(`,"shape":"x"`),
		"duplicate id":       `{"zones":[{"id":"z","name":"a","polygon":` + triangle + `},{"id":"z","name":"b","polygon":` + triangle + `}]}`,
		"polygon not a list": `{"zones":[{"id":"z","name":"n","polygon":"0,0,1,1"}]}`,
	} {
		if r := e.as("admin", req{method: "POST", path: "/api/streams/front/zones", body: body}); r.status != 400 {
			t.Errorf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}
	if r := e.as("admin", req{method: "POST", path: "/api/streams/nope/zones", body: zone("")}); r.status != 404 {
		t.Errorf("unknown stream: %d", r.status)
	}
}

func TestDetectionResultsAndLabels(t *testing.T) {
	e := newRecEnv(t)
	e.addStream("front")
	e.addStream("back")
	now := time.Now().Unix()
	rows := []db.Detection{
		{StreamName: "front", Timestamp: now - 5, Label: "person", Confidence: 0.9, X: 0.1, Y: 0.2, Width: 0.3, Height: 0.4, TrackID: -1, EventEndTime: now - 5},
		{StreamName: "front", Timestamp: now - 3600, Label: "car", Confidence: 0.8, TrackID: -1, EventEndTime: now - 3590},
		{StreamName: "back", Timestamp: now - 5, Label: "dog", Confidence: 0.7, TrackID: -1, EventEndTime: now - 5},
	}
	if err := db.InsertDetections(context.Background(), e.db, rows); err != nil {
		t.Fatal(err)
	}
	results := func(query string) (int, []detectionJSON) {
		t.Helper()
		r := e.as("viewer", req{method: "GET", path: "/api/detection/results/front" + query})
		var out struct {
			Detections []detectionJSON
			Timestamp  string
		}
		if r.status == 200 {
			if err := json.Unmarshal(r.body, &out); err != nil || len(out.Timestamp) != len(time.DateTime) {
				t.Fatalf("results %s: %v", r.body, err)
			}
		}
		return r.status, out.Detections
	}
	// The default window (30 s for a 10 s interval) holds the recent one only.
	if st, got := results(""); st != 200 || len(got) != 1 ||
		got[0] != (detectionJSON{Detection: event.Detection{Label: "person", Confidence: 0.9, X: 0.1, Y: 0.2, Width: 0.3, Height: 0.4, TrackID: -1},
			Timestamp: now - 5, EndTimestamp: now - 5}) {
		t.Errorf("default window: %d %+v", st, got)
	}
	q := func(from, to int64) string {
		return "?start=" + strconv.FormatInt(from, 10) + "&end=" + strconv.FormatInt(to, 10)
	}
	if st, got := results(q(now-7200, now)); st != 200 || len(got) != 2 || got[1].Label != "car" || got[1].EndTimestamp != now-3590 {
		t.Errorf("two hours: %d %+v", st, got)
	}
	for _, bad := range []string{"?start=yesterday", "?end=-1", q(now, now-10)} {
		if st, _ := results(bad); st != 400 {
			t.Errorf("%s: %d, want 400", bad, st)
		}
	}
	if r := e.as("viewer", req{method: "GET", path: "/api/detection/results/nope"}); r.status != 404 {
		t.Errorf("unknown stream: %d", r.status)
	}
	r := e.as("viewer", req{method: "GET", path: "/api/recordings/detection-labels"})
	if r.status != 200 || string(r.body) != `{"labels":["car","dog","person"]}` {
		t.Errorf("labels: %d %s", r.status, r.body)
	}
}

func TestDetectionModels(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "yolo.tflite"), make([]byte, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newRecEnvWith(t, envOpts{cfg: func(c *config.Config) { c.Models.Path = dir }})
	r := e.as("viewer", req{method: "GET", path: "/api/detection/models"})
	var out struct {
		Models []modelJSON
		Count  int
	}
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var ids []string
	for _, m := range out.Models {
		ids = append(ids, m.ID)
	}
	if !slices.Equal(ids, []string{"motion", "motion-snapshot", "api", "onvif", "yolo.tflite"}) || out.Count != 5 {
		t.Fatalf("models %s", r.body)
	}
	if m := out.Models[4]; m.Supported || m.Type != "tflite" || m.Size != 10 || m.UnsupportedReason == "" {
		t.Errorf("model file %+v", m)
	}
}

// The live feed is read over a real TCP connection from the real server
// while events are published; it ends when the server shuts down.
func TestEventFeed(t *testing.T) {
	bus := event.NewBus()
	e := newRecEnvWith(t, envOpts{deps: func(d *Deps) { d.Events = bus }})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.srv.Serve(ln) }()

	rq, err := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/events?stream=front", nil)
	if err != nil {
		t.Fatal(err)
	}
	rq.Host = "nvr.test"
	rq.SetBasicAuth("viewer", "viewer-pass")
	res, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(res.Body)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("feed ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != ": subscribed" {
		t.Fatalf("first line %q", l)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	bus.Publish(event.Event{Stream: "back", Time: at, Source: event.SourceMotion}) // another stream: not sent
	bus.Publish(event.Event{Stream: "front", Time: at, Source: event.SourceDetector, Snapshot: "/data/snapshots/front/e1.jpg",
		Detections: []event.Detection{{Label: "person", Confidence: 0.8, X: 0.1, Y: 0.2, Width: 0.3, Height: 0.4, TrackID: -1, ZoneID: "z1"}}})
	var data string
	for data == "" {
		if l := next(); strings.HasPrefix(l, "data: ") {
			data = strings.TrimPrefix(l, "data: ")
		}
	}
	var got feedEvent
	if err := json.Unmarshal([]byte(data), &got); err != nil {
		t.Fatal(err)
	}
	want := feedEvent{Stream: "front", Time: "2026-03-01T12:00:00Z", Timestamp: at.Unix(), Source: event.SourceDetector,
		Snapshot: "/api/snapshots/front/e1.jpg", Detections: []event.Detection{{Label: "person", Confidence: 0.8, X: 0.1, Y: 0.2, Width: 0.3, Height: 0.4, TrackID: -1, ZoneID: "z1"}}}
	if got.Stream != want.Stream || got.Time != want.Time || got.Timestamp != want.Timestamp || got.Source != want.Source ||
		got.Snapshot != want.Snapshot || !slices.Equal(got.Detections, want.Detections) {
		t.Fatalf("event %s", data)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open feed: %v", err)
	}
	for lines.Scan() {
	}
}
