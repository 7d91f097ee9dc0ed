package db

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func migratedTemp(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "streams.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return d
}

func TestStreamsCRUD(t *testing.T) {
	ctx := context.Background()
	d := migratedTemp(t)

	s := &Stream{Name: "front", URL: "rtsp://u:p@cam/1", Enabled: true, Priority: 7, Codec: "h264",
		DetectionThreshold: 0.4, RecordingSchedule: "1,0,1", Tags: "outdoor", SegmentDuration: 30}
	if err := InsertStream(ctx, d, s); err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 {
		t.Fatal("insert did not set the id")
	}
	if err := InsertStream(ctx, d, &Stream{Name: "front", URL: "rtsp://x"}); !errors.Is(err, ErrStreamExists) {
		t.Fatalf("duplicate insert: got %v, want ErrStreamExists", err)
	}
	if err := InsertStream(ctx, d, &Stream{Name: "back", URL: "rtsp://b", Enabled: true, Priority: 9}); err != nil {
		t.Fatal(err)
	}

	got, err := StreamByName(ctx, d, "front")
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != s.URL || got.Priority != 7 || got.DetectionThreshold != 0.4 || got.RecordingSchedule != "1,0,1" ||
		got.Tags != "outdoor" || !got.Enabled || got.SegmentDuration != 30 {
		t.Fatalf("read back %+v", got)
	}

	list, err := ListStreams(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "back" || list[1].Name != "front" {
		t.Fatalf("list order by priority: %+v", list)
	}

	got.URL = "rtsp://cam/2"
	got.RecordingSchedule = ""
	if err := UpdateStream(ctx, d, got); err != nil {
		t.Fatal(err)
	}
	got2, _ := StreamByName(ctx, d, "front")
	if got2.URL != "rtsp://cam/2" || got2.RecordingSchedule != "" {
		t.Fatalf("update not stored: %+v", got2)
	}
	var isNull bool
	if err := d.pool.QueryRowContext(ctx, `SELECT recording_schedule IS NULL FROM streams WHERE name='front'`).Scan(&isNull); err != nil || !isNull {
		t.Fatalf("empty schedule must be stored as NULL (all hours), got null=%v err=%v", isNull, err)
	}

	if err := SetStreamEnabled(ctx, d, "front", false); err != nil {
		t.Fatal(err)
	}
	if g, _ := StreamByName(ctx, d, "front"); g.Enabled {
		t.Fatal("disable not stored")
	}
	if err := DeleteStream(ctx, d, "front"); err != nil {
		t.Fatal(err)
	}
	if _, err := StreamByName(ctx, d, "front"); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	for _, err := range []error{
		DeleteStream(ctx, d, "front"),
		SetStreamEnabled(ctx, d, "nope", true),
		UpdateStream(ctx, d, &Stream{Name: "nope"}),
	} {
		if !errors.Is(err, ErrStreamNotFound) {
			t.Fatalf("missing row: got %v, want ErrStreamNotFound", err)
		}
	}
	if n, err := CountStreams(ctx, d); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
}

// A row written by LightNVR with NULLs in later-added columns still reads.
func TestStreamsReadLegacyNulls(t *testing.T) {
	ctx := context.Background()
	d := migratedTemp(t)
	for _, q := range []string{
		`INSERT INTO streams (name, url, detection_model, onvif_username, tags) VALUES ('old', 'rtsp://x', NULL, NULL, '')`,
		`UPDATE streams SET priority = NULL, codec = NULL, go2rtc_source_override = NULL WHERE name = 'old'`,
	} {
		if _, err := d.pool.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s, err := StreamByName(ctx, d, "old")
	if err != nil {
		t.Fatal(err)
	}
	if s.Priority != 5 || s.Codec != "" || s.DetectionModel != "" || !s.Enabled {
		t.Fatalf("legacy row read as %+v", s)
	}
}

func TestStreamsInTransactionRollBack(t *testing.T) {
	ctx := context.Background()
	d := migratedTemp(t)
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := InsertStream(ctx, tx, &Stream{Name: "tx", URL: "rtsp://x", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := StreamByName(ctx, tx, "tx"); err != nil {
		t.Fatalf("visible inside tx: %v", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := StreamByName(ctx, d, "tx"); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("rolled back insert still there: %v", err)
	}
}
