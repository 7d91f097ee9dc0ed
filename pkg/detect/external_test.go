package detect_test

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/event"
	"lightnvr/pkg/go2rtc"
	"lightnvr/pkg/testkit"
)

// frameSource is a go2rtc locked with credentials, as lightnvr runs it, with
// stream "front" reading a test camera (320x240).
func frameSource(t *testing.T) *go2rtc.Client {
	t.Helper()
	cam := testkit.StartCamera(t)
	creds := go2rtc.Credentials{Username: go2rtc.CredentialsUser, Password: "detect-test-secret"}
	credPath, err := go2rtc.WriteCredentials(go2rtc.Settings{ConfigDir: t.TempDir()}, creds)
	if err != nil {
		t.Fatal(err)
	}
	g := testkit.StartGo2RTCOn(t, testkit.FreePort(t), testkit.FreePort(t),
		fmt.Sprintf("streams:\n  front: %q\n", cam.URL()), credPath)
	c := go2rtc.NewClientWithAuth(g.API, func() go2rtc.Credentials { return creds })
	// The first frame waits for the camera's keyframe; later rounds do not.
	var last error
	testkit.WaitFor(t, 30*time.Second, "a first frame.jpeg from go2rtc", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, last = c.Frame(ctx, "front")
		return last == nil
	})
	return c
}

// detector is a test HTTP server speaking LightNVR's [api_detection]
// contract. It answers with whatever reply says and counts the requests
// that were not the contract's (a POST whose multipart field "file" is a
// JPEG the size of the camera's picture).
type detector struct {
	*httptest.Server
	reply   atomic.Pointer[replyFunc]
	valid   atomic.Int64
	invalid atomic.Int64
	query   atomic.Value // the last request's query string
}

type replyFunc = func(w http.ResponseWriter, r *http.Request)

func (d *detector) setReply(reply replyFunc) { d.reply.Store(&reply) }

func (d *detector) serve(w http.ResponseWriter, r *http.Request) {
	if err := checkRequest(r); err != nil {
		d.invalid.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d.valid.Add(1)
	d.query.Store(r.URL.RawQuery)
	(*d.reply.Load())(w, r)
}

func checkRequest(r *http.Request) error {
	if r.Method != http.MethodPost {
		return fmt.Errorf("method %s", r.Method)
	}
	if r.URL.Query().Get("return_image") != "false" {
		return fmt.Errorf("return_image %q", r.URL.Query().Get("return_image"))
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		return fmt.Errorf("multipart field file: %v", err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		return fmt.Errorf("file is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
		return fmt.Errorf("JPEG is %dx%d, the camera sends 320x240", b.Dx(), b.Dy())
	}
	return nil
}

func replyJSON(body string) replyFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

// hang answers only when the client gives up.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

const boxes = `{"backend":"onnx","filename":"frame.jpg","process_time_ms":12,"image_width":320,"image_height":240,
"detections":[
 {"label":"person","confidence":0.91,"bounding_box":{"x_min":0.1,"y_min":0.2,"x_max":0.4,"y_max":0.8},"track_id":7},
 {"label":"car","confidence":0.3,"bounding_box":{"x_min":0.5,"y_min":0.5,"x_max":0.9,"y_max":0.9}},
 {"label":"dog","confidence":0.6,"bounding_box":{"x_min":0.75,"y_min":-0.02,"x_max":1.04,"y_max":0.5}}]}`

// run starts a detector answering reply and an external detector for
// "front" posting to it, stopped when the test ends; sub receives its events.
func run(t *testing.T, frames *go2rtc.Client, reply replyFunc, timeout time.Duration) (*detector, *detect.External, *event.Subscription) {
	t.Helper()
	d := &detector{}
	d.setReply(reply)
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.Close)
	bus := event.NewBus()
	sub := bus.Subscribe(8)
	t.Cleanup(sub.Close)
	x := detect.NewExternal(detect.ExternalOptions{
		Stream: "front", URL: d.URL + "/api/v1/detect", Backend: "onnx", Threshold: 0.5,
		Interval: time.Second, Timeout: timeout,
		Backoff: backoff.Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond},
	}, frames, bus)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
	return d, x, sub
}

func nextEvent(t *testing.T, sub *event.Subscription, within time.Duration) event.Event {
	t.Helper()
	select {
	case e := <-sub.C():
		return e
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
		return event.Event{}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestExternalPublishesBoxes: the camera's real JPEG goes to the detector in
// LightNVR's request format; its boxes above the threshold come back as one
// detector event with the boxes in fractions of the frame.
func TestExternalPublishesBoxes(t *testing.T) {
	frames := frameSource(t)
	d, x, sub := run(t, frames, replyJSON(boxes), 5*time.Second)

	e := nextEvent(t, sub, 30*time.Second)
	if e.Stream != "front" || e.Source != event.SourceDetector || e.Time.IsZero() {
		t.Fatalf("event %+v: want stream front from the detector with a time", e)
	}
	want := []event.Detection{
		{Label: "person", Confidence: 0.91, X: 0.1, Y: 0.2, Width: 0.3, Height: 0.6, TrackID: 7},
		{Label: "dog", Confidence: 0.6, X: 0.75, Y: 0, Width: 0.25, Height: 0.5, TrackID: -1},
	}
	if len(e.Detections) != len(want) {
		t.Fatalf("detections %+v, want %+v (car is below the threshold)", e.Detections, want)
	}
	for i, g := range e.Detections {
		w := want[i]
		if g.Label != w.Label || g.TrackID != w.TrackID || !near(g.Confidence, w.Confidence) ||
			!near(g.X, w.X) || !near(g.Y, w.Y) || !near(g.Width, w.Width) || !near(g.Height, w.Height) {
			t.Errorf("detection %d = %+v, want %+v", i, g, w)
		}
	}
	if n := d.invalid.Load(); n != 0 {
		t.Fatalf("%d requests were not the contract's", n)
	}
	q, _ := d.query.Load().(string)
	if !strings.Contains(q, "backend=onnx") || !strings.Contains(q, "confidence_threshold=0.50") {
		t.Errorf("query %q lacks backend=onnx and confidence_threshold=0.50", q)
	}
	testkit.WaitFor(t, 5*time.Second, "status ok", func() bool {
		st := x.Status()
		return st.State == detect.ExternalOK && st.Events >= 1 && !st.LastDetection.IsZero()
	})
}

// TestExternalHungDetector: a detector that never answers is cut off by the
// timeout, retried with backoff and shown as failing; no event is made up,
// and events resume when it answers again.
func TestExternalHungDetector(t *testing.T) {
	frames := frameSource(t)
	d, x, sub := run(t, frames, hang, 300*time.Millisecond)

	testkit.WaitFor(t, 30*time.Second, "three failed rounds", func() bool {
		return x.Status().Failures >= 3
	})
	st := x.Status()
	if st.State != detect.ExternalFailing || !strings.Contains(st.LastError, "did not answer within 300ms") {
		t.Fatalf("status %+v: want failing with the timeout as last error", st)
	}
	select {
	case e := <-sub.C():
		t.Fatalf("hung detector produced event %+v", e)
	default:
	}

	d.setReply(replyJSON(boxes))
	e := nextEvent(t, sub, 30*time.Second)
	if len(e.Detections) != 2 || e.Detections[0].Label != "person" {
		t.Fatalf("after recovery got %+v", e)
	}
	testkit.WaitFor(t, 5*time.Second, "status ok again", func() bool {
		st := x.Status()
		return st.State == detect.ExternalOK && st.Failures == 0
	})
	st = x.Status()
	if st.TotalFailures < 3 || st.LastError == "" {
		t.Errorf("status %+v after recovery: the outage should stay counted", st)
	}
}

// TestExternalBadReplies: answers that are not the contract's are failures
// with a reason in the status; nothing is published from them.
func TestExternalBadReplies(t *testing.T) {
	frames := frameSource(t)
	// 10 MB of well-formed boxes: only the size limit stands between them
	// and the memory.
	huge := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		item := []byte(`{"label":"person","confidence":0.9,"bounding_box":{"x_min":0,"y_min":0,"x_max":1,"y_max":1}},`)
		body := append([]byte(`{"detections":[`), bytes.Repeat(item, 10<<20/len(item))...)
		w.Write(append(body[:len(body)-1], "]}"...))
	}
	cases := []struct {
		name  string
		reply replyFunc
		why   string
	}{
		{"garbage JSON", replyJSON(`{"detections":[{"label":"person","confidence":0.9,`), "not the expected JSON"},
		{"HTML page", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html><body><h1>It works!</h1></body></html>")
		}, "not the expected JSON"},
		{"10 MB body", huge, "larger than"},
		{"server error", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "model not loaded", http.StatusInternalServerError)
		}, "answered 500: model not loaded"},
		{"no detections list", replyJSON(`{"error":"busy"}`), "no detections list"},
		{"pixel boxes", replyJSON(`{"detections":[{"label":"person","confidence":0.9,
			"bounding_box":{"x_min":10,"y_min":20,"x_max":110,"y_max":220}}]}`), "not in fractions"},
		{"percent confidence", replyJSON(`{"detections":[{"label":"person","confidence":90,
			"bounding_box":{"x_min":0.1,"y_min":0.1,"x_max":0.2,"y_max":0.2}}]}`), "outside 0..1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, x, sub := run(t, frames, c.reply, 5*time.Second)
			testkit.WaitFor(t, 30*time.Second, "two failed rounds", func() bool {
				return x.Status().TotalFailures >= 2
			})
			st := x.Status()
			if st.State != detect.ExternalFailing || !strings.Contains(st.LastError, c.why) {
				t.Fatalf("status %+v: want failing because %q", st, c.why)
			}
			if d.valid.Load() < 2 || d.invalid.Load() != 0 {
				t.Fatalf("detector saw %d valid and %d invalid requests", d.valid.Load(), d.invalid.Load())
			}
			select {
			case e := <-sub.C():
				t.Fatalf("bad reply produced event %+v", e)
			default:
			}
		})
	}
}

// TestExternalFor: which streams get an external detector, at which URL,
// with which threshold.
func TestExternalFor(t *testing.T) {
	cfg := config.Default().APIDetection
	cases := []struct {
		model, streamURL string
		threshold        float64
		wantURL          string
		wantThreshold    float64
	}{
		{"api", "", 0.7, cfg.URL, 0.7},
		{"api-detection", "http://det:9000/detect", 0.7, "http://det:9000/detect", 0.7},
		{" https://det.lan/v1/detect ", "", 0, "https://det.lan/v1/detect", 0.5},
		{"motion", "http://det:9000/detect", 0.7, "", 0},
		{"", "", 0.7, "", 0},
		{"yolo.onnx", "", 0.7, "", 0},
	}
	for _, c := range cases {
		s := db.NewStream("front", "rtsp://cam/")
		s.DetectionModel, s.DetectionAPIURL, s.DetectionThreshold = c.model, c.streamURL, c.threshold
		s.DetectionInterval = 4
		opt, ok := detect.ExternalFor(s, cfg)
		if ok != (c.wantURL != "") || opt.URL != c.wantURL {
			t.Errorf("model %q: ok=%v url %q, want %q", c.model, ok, opt.URL, c.wantURL)
			continue
		}
		if ok && (opt.Threshold != c.wantThreshold || opt.Interval != 4*time.Second || opt.Stream != "front" ||
			opt.Timeout != time.Duration(cfg.Timeout)*time.Second || opt.Backend != cfg.Backend) {
			t.Errorf("model %q: options %+v", c.model, opt)
		}
	}
}

// TestExternalFiltersBeforePublishing: the stream's zones and object filter
// apply before an event reaches the bus. Boxes a zone excludes publish
// nothing and keep no snapshot; of a mixed answer only the kept boxes go
// out, each with its zone, and the frame is kept.
func TestExternalFiltersBeforePublishing(t *testing.T) {
	frames := frameSource(t)
	ctx := context.Background()
	store := testkit.OpenDB(t, "")
	if err := db.InsertStream(ctx, store, db.NewStream("front", "rtsp://cam/1")); err != nil {
		t.Fatal(err)
	}
	right := []detect.Point{{X: 0.5, Y: 0}, {X: 1, Y: 0}, {X: 1, Y: 1}, {X: 0.5, Y: 1}}
	if err := db.ReplaceZones(ctx, store, "front", []db.Zone{{ID: "right", Name: "right half", Enabled: true,
		Polygon: detect.EncodePolygon(right)}}); err != nil {
		t.Fatal(err)
	}
	storage := t.TempDir()
	d := &detector{}
	d.setReply(replyJSON(`{"detections":[{"label":"person","confidence":0.9,
		"bounding_box":{"x_min":0.1,"y_min":0.2,"x_max":0.4,"y_max":0.8}}]}`)) // centre in the left half
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.Close)
	bus := event.NewBus()
	sub := bus.Subscribe(8)
	defer sub.Close()
	x := detect.NewExternal(detect.ExternalOptions{Stream: "front", URL: d.URL, Threshold: 0.5, Interval: time.Second,
		Snapshots: detect.NewSnapshots(storage, nil, discard), DB: store}, frames, bus)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = x.Run(rctx) }()
	defer func() { cancel(); <-done }()

	testkit.WaitFor(t, 30*time.Second, "three rounds answered", func() bool { return d.valid.Load() >= 3 })
	select {
	case e := <-sub.C():
		t.Fatalf("a box outside every zone reached the bus: %+v", e)
	default:
	}
	if entries, _ := os.ReadDir(filepath.Join(storage, "snapshots", "front")); len(entries) != 0 {
		t.Fatalf("%d snapshots kept of frames whose boxes were all filtered out", len(entries))
	}

	d.setReply(replyJSON(boxes)) // person (left), car (below the threshold), dog (right)
	e := nextEvent(t, sub, 30*time.Second)
	if len(e.Detections) != 1 || e.Detections[0].Label != "dog" || e.Detections[0].ZoneID != "right" {
		t.Fatalf("published %+v, want only the dog, in zone right", e.Detections)
	}
	if e.Snapshot == "" {
		t.Fatal("an event with a kept box has no snapshot")
	}
	decodeSnapshot(t, e.Snapshot)
}
