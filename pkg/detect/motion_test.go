package detect

import (
	"context"
	"sync"
	"testing"
	"time"

	"lightnvr/pkg/backoff"
	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/media"
	"lightnvr/pkg/testkit"
)

// watched is what a detector published while watching a camera.
type watched struct {
	events []event.Event
	first  time.Time // wall time of the first video frame: the scene's time 0
	audio  int       // audio units that went past the detector
	descs  int       // descriptions the detector saw
}

// at is the scene time of an event.
func (w *watched) at(e event.Event) time.Duration { return e.Time.Sub(w.first) }

// watch ingests url with media.Source for d and runs a Motion detector on
// its hub; during, if set, is called once halfway through.
func watch(t *testing.T, url string, cfg MotionConfig, d time.Duration, during func()) *watched {
	t.Helper()
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{Name: cfg.Stream, URL: url, Hub: hub,
		Backoff: backoff.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}})
	sub := hub.Subscribe("motion", 256)
	tap := hub.Subscribe("tap", 256)
	bus := event.NewBus()
	evs := bus.Subscribe(1024)
	ctx, cancel := context.WithCancel(context.Background())
	w := &watched{}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = src.Run(ctx) }()
	go func() { defer wg.Done(); _ = NewMotion(cfg).Run(ctx, sub, bus) }()
	tapped := make(chan struct{})
	go func() { defer close(tapped); w.tapUnits(tap) }()
	time.Sleep(d / 2)
	if during != nil {
		during()
	}
	time.Sleep(d - d/2)
	cancel()
	wg.Wait()
	hub.Close()
	<-tapped
	evs.Close()
	for e := range evs.C() {
		w.events = append(w.events, e)
	}
	if w.first.IsZero() {
		t.Fatal("the camera sent no video")
	}
	return w
}

// tapUnits notes the first video frame, the descriptions and the audio
// units the detector had to pass over, until the hub closes.
func (w *watched) tapUnits(tap *media.Subscription) {
	var desc *media.Desc
	for u := range tap.C() {
		if !u.IsVideo() {
			w.audio++
			continue
		}
		if w.first.IsZero() {
			w.first = u.Wall
		}
		if u.Desc != desc {
			desc = u.Desc
			w.descs++
		}
	}
}

func (w *watched) String() string {
	s := ""
	for _, e := range w.events {
		s += " " + w.at(e).Round(10*time.Millisecond).String()
	}
	return "events at" + s
}

// A box crosses a still picture from A to B: motion is published from
// within MinDuration + 1 s of A, about once a second, and no more from 1 s
// after B, with audio on the same hub. (Under sensor noise a 60×60 box,
// 1.5% of the picture, costs fewer bytes than the noise varies by: frame
// sizes cannot show it, so the noisy picture is tested for staying quiet.)
func TestMotionPublishedWhileBoxMoves(t *testing.T) {
	const a, b = 4.3, 9.3 // seconds, between keyframes (every 2 s)
	cam := testkit.StartMotionCamera(t, testkit.MotionScene{From: a, To: b})
	cfg := MotionConfig{Stream: "cam", Sensitivity: DefaultSensitivity, MinDuration: 500 * time.Millisecond}
	w := watch(t, cam.URL(), cfg, 13*time.Second, nil)
	t.Log(w)
	if w.audio == 0 {
		t.Fatal("the camera sent no audio: the test does not show audio is passed over")
	}
	start, end := secs(a), secs(b)
	if len(w.events) == 0 {
		t.Fatalf("no motion published for a box moving from %v to %v", start, end)
	}
	if at := w.at(w.events[0]); at < start || at > start+cfg.MinDuration+time.Second {
		t.Fatalf("first motion at %v, want within %v of %v; %v", at, cfg.MinDuration+time.Second, start, w)
	}
	if at := w.at(w.events[len(w.events)-1]); at < end-time.Second || at > end+time.Second {
		t.Fatalf("last motion at %v, want within 1s of %v; %v", at, end, w)
	}
	for i := 1; i < len(w.events); i++ {
		gap := w.events[i].Time.Sub(w.events[i-1].Time)
		if gap < time.Second-50*time.Millisecond || gap > 1500*time.Millisecond {
			t.Fatalf("motion repeated after %v, want about once a second; %v", gap, w)
		}
	}
	checkEvent(t, w.events[0])
}

func checkEvent(t *testing.T, e event.Event) {
	t.Helper()
	if e.Stream != "cam" || e.Source != event.SourceMotion || len(e.Detections) != 1 {
		t.Fatalf("event %+v", e)
	}
	d := e.Detections[0]
	if d.Label != "motion" || d.Confidence <= 0 || d.Confidence > 1 || d.X != 0 || d.Y != 0 || d.Width != 1 || d.Height != 1 {
		t.Fatalf("detection %+v, want motion over the whole frame", d)
	}
}

// A still picture publishes nothing for a minute, with or without sensor
// noise, keyframes and audio notwithstanding.
func TestMotionStillCameraPublishesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of camera")
	}
	for _, noise := range []int{0, noisy} {
		t.Run(map[int]string{0: "clean", noisy: "noisy"}[noise], func(t *testing.T) {
			t.Parallel()
			cam := testkit.StartMotionCamera(t, testkit.MotionScene{Noise: noise})
			cfg := MotionConfig{Stream: "cam", Sensitivity: DefaultSensitivity, MinDuration: time.Second}
			w := watch(t, cam.URL(), cfg, time.Minute, nil)
			if len(w.events) > 0 {
				t.Fatalf("a still camera published motion: %v", w)
			}
		})
	}
}

// A still camera that reboots comes back with a new description, a fresh
// encoder and here other settings (a noisy picture, 600 times the bytes
// per frame): that is not motion, the detector learns the new stream.
func TestMotionCameraRestartIsNotMotion(t *testing.T) {
	cam := testkit.StartMotionCamera(t, testkit.MotionScene{})
	cfg := MotionConfig{Stream: "cam", Sensitivity: DefaultSensitivity, MinDuration: 0}
	w := watch(t, cam.URL(), cfg, 20*time.Second, func() {
		cam.Restart(t, time.Second, testkit.MotionScene{Noise: noisy})
	})
	if w.descs < 2 {
		t.Fatalf("the camera restart gave %d descriptions, want a new one", w.descs)
	}
	if len(w.events) > 0 {
		t.Fatalf("a still camera that restarted published motion: %v", w)
	}
}

// Motion shorter than the stream's minimum duration publishes nothing.
func TestMotionShorterThanMinDurationPublishesNothing(t *testing.T) {
	cam := testkit.StartMotionCamera(t, testkit.MotionScene{From: 3.3, To: 4.3})
	s := db.NewStream("cam", cam.URL())
	s.MotionMinDuration = 2
	cfg := motionConfigOf(s)
	if cfg.Sensitivity != DefaultSensitivity || cfg.MinDuration != 2*time.Second {
		t.Fatalf("stream defaults gave %+v", cfg)
	}
	w := watch(t, cam.URL(), cfg, 8*time.Second, nil)
	if len(w.events) > 0 {
		t.Fatalf("1 s of motion published with a minimum of %v: %v", cfg.MinDuration, w)
	}
}

// noisy is sensor noise that codes to about 18 KB per P-frame at 640×360
// (3.6 Mbit/s), as a real camera's picture does.
const noisy = 6

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Motion is a whole-frame detection: the stream's rules apply to it before
// it is published, so a zone that leaves out the picture's centre, or an
// object filter that excludes "motion", keeps it off the bus.
func TestMotionPublishesOnlyWhatRulesKeep(t *testing.T) {
	ctx := context.Background()
	d := testkit.OpenDB(t, "")
	s := db.NewStream("yard", "rtsp://cam/1")
	if err := db.InsertStream(ctx, d, s); err != nil {
		t.Fatal(err)
	}
	bus := event.NewBus()
	sub := bus.Subscribe(8)
	defer sub.Close()
	m := NewMotion(MotionConfig{Stream: "yard", DB: d})
	u := &media.Unit{Wall: time.Now()}
	published := func() bool {
		m.publish(ctx, bus, m.event(u, 1))
		select {
		case <-sub.C():
			return true
		default:
			return false
		}
	}
	if !published() {
		t.Fatal("motion without zones or filters was not published")
	}
	corner := []Point{{X: 0, Y: 0}, {X: 0.3, Y: 0}, {X: 0.3, Y: 0.3}, {X: 0, Y: 0.3}}
	if err := db.ReplaceZones(ctx, d, "yard", []db.Zone{{ID: "gate", Enabled: true, Polygon: EncodePolygon(corner)}}); err != nil {
		t.Fatal(err)
	}
	if published() {
		t.Fatal("motion published though the only zone leaves out the picture's centre")
	}
	if err := db.ReplaceZones(ctx, d, "yard", nil); err != nil {
		t.Fatal(err)
	}
	s.DetectionObjectFilter, s.DetectionObjectFilterList = "exclude", "motion"
	if err := db.UpdateStream(ctx, d, s); err != nil {
		t.Fatal(err)
	}
	if published() {
		t.Fatal(`motion published though the object filter excludes "motion"`)
	}
}
