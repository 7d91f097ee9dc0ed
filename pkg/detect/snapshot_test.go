package detect_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/detect"
	"lightnvr/pkg/event"
	"lightnvr/pkg/testkit"
)

var discard = slog.New(slog.DiscardHandler)

// decodeSnapshot fails the test unless path is the camera's picture as a
// JPEG.
func decodeSnapshot(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if ct := http.DetectContentType(b); ct != "image/jpeg" {
		t.Fatalf("%s is %s, want image/jpeg", path, ct)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r := img.Bounds(); r.Dx() != 320 || r.Dy() != 240 {
		t.Fatalf("%s is %dx%d, the camera sends 320x240", path, r.Dx(), r.Dy())
	}
}

// Events of the real camera leave its picture under
// <storage>/snapshots/front/<unix-ts>.jpg: the external detector keeps the
// very frame it posted and puts its path on the event; a stored event that
// carries none (motion) gets a picture fetched from go2rtc.
func TestEventSnapshots(t *testing.T) {
	frames := frameSource(t)
	storage := t.TempDir()
	snaps := detect.NewSnapshots(storage, frames, discard)

	t.Run("external detector", func(t *testing.T) {
		d := &detector{}
		d.setReply(replyJSON(boxes))
		d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
		t.Cleanup(d.Close)
		bus := event.NewBus()
		sub := bus.Subscribe(8)
		defer sub.Close()
		x := detect.NewExternal(detect.ExternalOptions{Stream: "front", URL: d.URL, Threshold: 0.5,
			Interval: time.Second, Snapshots: snaps}, frames, bus)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = x.Run(ctx) }()
		defer func() { cancel(); <-done }()
		e := nextEvent(t, sub, 30*time.Second)
		want := filepath.Join(storage, "snapshots", "front", strconv.FormatInt(e.Time.Unix(), 10)+".jpg")
		if e.Snapshot != want {
			t.Fatalf("event snapshot %q, want %q", e.Snapshot, want)
		}
		decodeSnapshot(t, e.Snapshot)
	})

	t.Run("stored event without a picture", func(t *testing.T) {
		d := testkit.OpenDB(t, "")
		if err := db.InsertStream(context.Background(), d, db.NewStream("front", "rtsp://cam/1")); err != nil {
			t.Fatal(err)
		}
		bus := event.NewBus()
		st := detect.NewStore(d, bus, discard)
		st.KeepSnapshots(snaps)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); st.Run(ctx) }()
		defer func() { cancel(); <-done }()
		at := time.Now().Add(time.Hour) // past the detector's last snapshot
		bus.Publish(event.Event{Stream: "front", Time: at, Source: event.SourceMotion,
			Detections: []event.Detection{{Label: "motion", Confidence: 1, Width: 1, Height: 1, TrackID: -1}}})
		path := filepath.Join(storage, "snapshots", "front", strconv.FormatInt(at.Unix(), 10)+".jpg")
		testkit.WaitFor(t, 30*time.Second, "the snapshot of the stored event", func() bool {
			_, err := os.Stat(path)
			return err == nil
		})
		decodeSnapshot(t, path)
	})
}

// A stream keeps at most SnapshotsKept snapshots, the newest, and one per
// few seconds however often its detector fires.
func TestSnapshotsBounded(t *testing.T) {
	storage := t.TempDir()
	snaps := detect.NewSnapshots(storage, nil, discard)
	pic := []byte{0xFF, 0xD8, 0xFF, 0xD9}
	t0 := time.Unix(1_772_366_400, 0)
	extra := 5
	for i := range detect.SnapshotsKept + extra {
		at := t0.Add(time.Duration(i) * time.Minute)
		if p, err := snaps.Save("front", at, pic); err != nil || p == "" {
			t.Fatalf("save %d: %q, %v", i, p, err)
		}
		if p, err := snaps.Save("front", at.Add(time.Second), pic); err != nil || p != "" {
			t.Fatalf("a second snapshot a second later: %q, %v; want none", p, err)
		}
	}
	dir := filepath.Join(storage, "snapshots", "front")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != detect.SnapshotsKept {
		t.Fatalf("%d snapshots kept, want %d", len(entries), detect.SnapshotsKept)
	}
	for i := range detect.SnapshotsKept + extra {
		name := strconv.FormatInt(t0.Add(time.Duration(i)*time.Minute).Unix(), 10) + ".jpg"
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := i < extra; gone != os.IsNotExist(err) {
			t.Errorf("snapshot %d (%s): removed %v, want %v", i, name, os.IsNotExist(err), gone)
		}
	}
	if p, err := snaps.Save("../x", t0, pic); p != "" || err != nil {
		t.Fatalf("a stream name leaving the directory saved %q, %v", p, err)
	}
}
