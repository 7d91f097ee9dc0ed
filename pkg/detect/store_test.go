package detect

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/event"
	"lightnvr/pkg/testkit"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// storeDB is a database with stream cam (object filter: exclude car) whose
// one zone is the L shape, recording continuously since t0.
func storeDB(t *testing.T, t0 time.Time) (*db.DB, int64) {
	t.Helper()
	ctx := context.Background()
	d := testkit.OpenDB(t, "")
	s := db.NewStream("cam", "rtsp://cam/1")
	s.DetectionObjectFilter, s.DetectionObjectFilterList = "exclude", "car"
	if err := db.InsertStream(ctx, d, s); err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceZones(ctx, d, "cam", []db.Zone{{ID: "L", Name: "L", Enabled: true, Polygon: EncodePolygon(lShape)}}); err != nil {
		t.Fatal(err)
	}
	rec, err := db.InsertRecording(ctx, d, &db.Recording{StreamName: "cam", FilePath: "/rec/cam/seg.mp4", StartTime: t0.Unix()})
	if err != nil {
		t.Fatal(err)
	}
	return d, rec
}

func startStore(t *testing.T, d *db.DB, bus *event.Bus) (stop func()) {
	t.Helper()
	st := NewStore(d, bus, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func stored(t *testing.T, d *db.DB) []db.Detection {
	t.Helper()
	rows, err := db.DetectionsBetween(context.Background(), d, "cam", 0, 1<<40, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// The store keeps what the zones and the object filter keep, links it to
// the continuous segment being written, and stores nothing for the rest.
func TestStoreFiltersAndLinks(t *testing.T) {
	t0 := time.Unix(1_772_366_400, 0)
	d, rec := storeDB(t, t0)
	bus := event.NewBus()
	stop := startStore(t, d, bus)
	at := t0.Add(5 * time.Second)
	bus.Publish(event.Event{Stream: "cam", Time: at, Source: event.SourceDetector, Detections: []event.Detection{
		box("person", 0.9, Point{0.25, 0.25}), // in the zone: kept
		box("car", 0.9, Point{0.25, 0.75}),    // excluded label
		box("person", 0.9, Point{0.75, 0.25}), // outside the zone
	}})
	bus.Publish(event.Event{Stream: "cam", Time: at, Source: event.SourceMotion, Detections: []event.Detection{box("dog", 0.5, Point{0.75, 0.25})}})
	bus.Publish(event.Event{Stream: "cam", Time: at, Source: event.SourceAPI}) // nothing seen
	bus.Publish(event.Event{Stream: "gone", Time: at, Source: event.SourceAPI, Detections: []event.Detection{box("person", 1, Point{0.25, 0.25})}})
	bus.Publish(event.Event{Stream: "cam", Time: at.Add(time.Second), Source: event.SourceAPI, Detections: []event.Detection{box("bike", 0.7, Point{0.75, 0.75})}})
	stop() // the last batch is written before Run returns
	rows := stored(t, d)
	var got []string
	for _, r := range rows {
		got = append(got, r.Label+"@"+r.ZoneID+"/"+r.Source)
		if r.RecordingID != rec {
			t.Errorf("%s linked to recording %d, want %d", r.Label, r.RecordingID, rec)
		}
	}
	if want := []string{"bike@L/api", "person@L/"}; !slices.Equal(got, want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	if p := rows[1]; p.Timestamp != at.Unix() || p.EventEndTime != at.Unix() || p.Confidence != 0.9 || p.TrackID != -1 {
		t.Errorf("row %+v", p)
	}
}

// A lone detection is written within the flush interval, without waiting
// for a full batch or for the store to stop.
func TestStoreFlushesOnTime(t *testing.T) {
	t0 := time.Unix(1_772_366_400, 0)
	d, _ := storeDB(t, t0)
	bus := event.NewBus()
	startStore(t, d, bus)
	bus.Publish(event.Event{Stream: "cam", Time: t0, Source: event.SourceDetector, Detections: []event.Detection{box("person", 0.9, Point{0.1, 0.9})}})
	deadline := time.Now().Add(20 * time.Second)
	for len(stored(t, d)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the detection was not written while the store ran")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
