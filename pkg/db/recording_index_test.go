package db

import (
	"context"
	"testing"
)

// A batch of open segments' indexes, taken before one segment closed,
// must not replace the final index of the closed one, must not shrink an
// index, and must skip a row deleted meanwhile, while the others land.
func TestPutOpenRecordingIndexesKeepsFinalIndexes(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	ids := make([]int64, 3)
	for i := range ids {
		id, err := InsertRecording(ctx, d, &Recording{StreamName: "cam", FilePath: "/rec/cam/" + string(rune('a'+i)) + ".mp4", StartTime: 1000})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	closed, open, gone := ids[0], ids[1], ids[2]
	if err := FinishRecording(ctx, d, &RecordingIndex{RecordingID: closed, StartUS: 1, PartCount: 9, Parts: []byte{1}}, RecordingEnd{EndTime: 1009}); err != nil {
		t.Fatal(err)
	}
	if err := PutRecordingIndex(ctx, d, &RecordingIndex{RecordingID: open, StartUS: 1, PartCount: 5, Parts: []byte{5}}); err != nil {
		t.Fatal(err)
	}
	if err := DeleteRecording(ctx, d, gone); err != nil {
		t.Fatal(err)
	}
	stale := []*RecordingIndex{
		{RecordingID: closed, StartUS: 1, PartCount: 20, Parts: []byte{2}}, // taken before the close
		{RecordingID: open, StartUS: 1, PartCount: 4, Parts: []byte{4}},    // older than the saved one
		{RecordingID: gone, StartUS: 1, PartCount: 3},
	}
	if err := PutOpenRecordingIndexes(ctx, d, stale); err != nil {
		t.Fatal(err)
	}
	wantParts(t, d, map[int64]int{closed: 9, open: 5})
	if err := PutOpenRecordingIndexes(ctx, d, []*RecordingIndex{{RecordingID: open, StartUS: 1, PartCount: 6, Parts: []byte{6}}}); err != nil {
		t.Fatal(err)
	}
	wantParts(t, d, map[int64]int{closed: 9, open: 6})
	if _, err := GetRecordingIndex(ctx, d, gone); err == nil {
		t.Error("a deleted recording got an index")
	}
}

func wantParts(t *testing.T, d *DB, want map[int64]int) {
	t.Helper()
	for id, n := range want {
		ix, err := GetRecordingIndex(context.Background(), d, id)
		if err != nil {
			t.Fatal(err)
		}
		if ix.PartCount != n {
			t.Errorf("recording %d: %d parts indexed, want %d", id, ix.PartCount, n)
		}
	}
}
