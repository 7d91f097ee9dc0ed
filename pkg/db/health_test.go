package db

import (
	"context"
	"testing"
)

// Gaps are holes between consecutive continuous recordings of a stream
// since the given moment; event clips, other streams and older rows do not
// count.
func TestRecordingActivitySince(t *testing.T) {
	ctx := context.Background()
	d := migratedTemp(t)
	rows := []struct {
		stream, trigger string
		start, end      int64
		size            int64
	}{
		{"a", "scheduled", 900, 960, 5},     // before since: not counted
		{"a", "scheduled", 1000, 1060, 10},  // first since: no gap before it
		{"a", "scheduled", 1061, 1120, 10},  // 1 s apart: a segment boundary
		{"a", "scheduled", 1200, 1260, 10},  // 80 s hole: a gap
		{"a", "detection", 1300, 1310, 1},   // a clip: never a gap
		{"a", "scheduled", 1400, 1460, 10},  // 140 s after the last continuous one: a gap
		{"b", "scheduled", 1000, 1060, 100}, // another stream
		{"b", "scheduled", 1060, 1120, 100},
	}
	for _, r := range rows {
		if _, err := d.pool.Exec(`INSERT INTO recordings (stream_name, file_path, start_time, end_time, size_bytes, trigger_type, is_complete)
			VALUES (?, 'x', ?, ?, ?, ?, 1)`, r.stream, r.start, r.end, r.size, r.trigger); err != nil {
			t.Fatal(err)
		}
	}
	got, err := RecordingActivitySince(ctx, d, 1000, 2)
	if err != nil {
		t.Fatal(err)
	}
	if a := got["a"]; a != (RecordingActivity{Segments: 5, Bytes: 41, Gaps: 2}) {
		t.Errorf("a: %+v, want 5 segments, 41 bytes, 2 gaps", a)
	}
	if b := got["b"]; b != (RecordingActivity{Segments: 2, Bytes: 200, Gaps: 0}) {
		t.Errorf("b: %+v, want 2 segments, 200 bytes, no gap", b)
	}
	if v, err := d.SQLiteVersion(ctx); err != nil || v == "" {
		t.Errorf("sqlite version %q, %v", v, err)
	}
	if err := d.CheckWritable(ctx); err != nil {
		t.Errorf("a fresh database is not writable: %v", err)
	}
}
