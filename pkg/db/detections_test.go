package db

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
)

func TestZonesReplaceListDelete(t *testing.T) {
	d, ctx := openMigrated(t), context.Background()
	for _, name := range []string{"front", "back"} {
		if err := InsertStream(ctx, d, NewStream(name, "rtsp://cam/"+name)); err != nil {
			t.Fatal(err)
		}
	}
	poly := `[{"x":0.000000,"y":0.000000},{"x":1.000000,"y":0.000000},{"x":0.000000,"y":1.000000}]`
	zones := []Zone{
		{ID: "z-b", Name: "Drive", Enabled: true, Color: "#ff0000", Polygon: poly, FilterClasses: "car", MinConfidence: 0.5},
		{ID: "z-a", Name: "Door", Color: "#00ff00", Polygon: poly},
	}
	if err := ReplaceZones(ctx, d, "front", zones); err != nil {
		t.Fatal(err)
	}
	got, err := StreamZones(ctx, d, "front")
	if err != nil {
		t.Fatal(err)
	}
	for i := range zones {
		zones[i].StreamName = "front"
	}
	if !slices.Equal(got, zones) {
		t.Fatalf("zones read back\n%+v\nwant (in saved order)\n%+v", got, zones)
	}
	// Replacing drops the zones left out.
	if err := ReplaceZones(ctx, d, "front", zones[1:]); err != nil {
		t.Fatal(err)
	}
	if got, _ := StreamZones(ctx, d, "front"); len(got) != 1 || got[0].ID != "z-a" {
		t.Fatalf("after replace: %+v", got)
	}
	// Ids are unique across streams: the other stream's replace fails whole.
	err = ReplaceZones(ctx, d, "back", []Zone{{ID: "z-new", Name: "n", Polygon: poly}, {ID: "z-a", Name: "x", Polygon: poly}})
	if !errors.Is(err, ErrZoneIDTaken) {
		t.Fatalf("taken id: %v, want ErrZoneIDTaken", err)
	}
	if got, _ := StreamZones(ctx, d, "back"); len(got) != 0 {
		t.Fatalf("a failed replace left %+v", got)
	}
	if n, err := DeleteZones(ctx, d, "front"); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
}

// Detections are linked to the continuous segment their stream was writing
// at their time; a detection clip or another stream's segment is no link.
func TestInsertDetectionsLinksContinuousRecording(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	add := func(stream, trigger string, start, end int64) int64 {
		t.Helper()
		id, err := InsertRecording(ctx, d, &Recording{StreamName: stream, FilePath: fmt.Sprintf("/rec/%s/%s-%d.mp4", stream, trigger, start), StartTime: start, TriggerType: trigger})
		if err != nil {
			t.Fatal(err)
		}
		if end > 0 {
			if err := CompleteRecording(ctx, d, id, RecordingEnd{EndTime: end}); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	closed := add("cam", "scheduled", 1000, 1030)
	open := add("cam", "scheduled", 1030, 0)
	add("cam", "detection", 900, 960)
	add("other", "scheduled", 800, 0)
	rows := []Detection{
		{StreamName: "cam", Timestamp: 1010, Label: "person", Confidence: 0.9, X: 0.1, Y: 0.2, Width: 0.3, Height: 0.4, TrackID: 7, ZoneID: "z1", EventEndTime: 1010},
		{StreamName: "cam", Timestamp: 1100, Label: "car", Confidence: 0.8, TrackID: -1, Source: "api", EventEndTime: 1100},
		{StreamName: "cam", Timestamp: 930, Label: "dog", Confidence: 0.7, TrackID: -1, EventEndTime: 930},
	}
	if err := InsertDetections(ctx, d, rows); err != nil {
		t.Fatal(err)
	}
	got, err := DetectionsBetween(ctx, d, "cam", 0, 2000, 10)
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]int64{}
	for _, g := range got {
		links[g.Label] = g.RecordingID
	}
	if want := map[string]int64{"person": closed, "car": open, "dog": 0}; !maps.Equal(links, want) {
		t.Fatalf("links %v, want %v", links, want)
	}
	if got[0].Label != "car" || got[1].Label != "person" {
		t.Fatalf("not newest first: %+v", got)
	}
	p := got[1]
	if p.X != 0.1 || p.Height != 0.4 || p.TrackID != 7 || p.ZoneID != "z1" || p.EventEndTime != 1010 || got[0].Source != "api" {
		t.Fatalf("row read back %+v", p)
	}
	if got, _ := DetectionsBetween(ctx, d, "cam", 1000, 1050, 10); len(got) != 1 {
		t.Fatalf("window [1000,1050]: %+v", got)
	}
	labels, err := DetectionLabels(ctx, d)
	if err != nil || !slices.Equal(labels, []string{"car", "dog", "person"}) {
		t.Fatalf("labels %v, %v", labels, err)
	}
}

// A segment still being written has has_detection as soon as a detection
// is linked to it, not only once it is closed.
func TestOpenSegmentHasLinkedDetection(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	id, err := InsertRecording(ctx, d, &Recording{StreamName: "cam", FilePath: "/rec/cam/open.mp4", StartTime: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := InsertDetections(ctx, d, []Detection{{StreamName: "cam", Timestamp: 1010, Label: "person", Confidence: 1, TrackID: -1, EventEndTime: 1010}}); err != nil {
		t.Fatal(err)
	}
	it, err := GetRecordingItem(ctx, d, id)
	if err != nil {
		t.Fatal(err)
	}
	if !it.HasDetection {
		t.Fatal("the open segment with a linked detection has no has_detection")
	}
}
