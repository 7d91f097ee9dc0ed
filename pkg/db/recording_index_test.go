package db

import (
	"context"
	"errors"
	"testing"
)

// A batch of open segments' indexes, taken before one segment closed,
// must not replace the final index of the closed one, must not shrink an
// index, and must skip a row deleted meanwhile, while the others land.
func TestOpenIndexesKeepFinalIndexes(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	ids := insertThree(t, d)
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
	if err := WriteRecordings(ctx, d, &RecordingWrites{Open: stale}); err != nil {
		t.Fatal(err)
	}
	wantParts(t, d, map[int64]int{closed: 9, open: 5})
	if err := WriteRecordings(ctx, d, &RecordingWrites{Open: []*RecordingIndex{{RecordingID: open, StartUS: 1, PartCount: 6, Parts: []byte{6}}}}); err != nil {
		t.Fatal(err)
	}
	wantParts(t, d, map[int64]int{closed: 9, open: 6})
	if _, err := GetRecordingIndex(ctx, d, gone); err == nil {
		t.Error("a deleted recording got an index")
	}
}

// insertThree inserts three incomplete recordings of stream cam and
// returns their ids.
func insertThree(t *testing.T, d *DB) []int64 {
	t.Helper()
	ids := make([]int64, 3)
	for i := range ids {
		id, err := InsertRecording(context.Background(), d, &Recording{StreamName: "cam",
			FilePath: "/rec/cam/" + string(rune('a'+i)) + ".mp4", StartTime: 1000})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	return ids
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

// WriteRecordings commits every item that can be written in one
// transaction: new rows get their ids, a finish of a row deleted
// meanwhile fails alone and leaves nothing behind, and an open index
// taken before its recording's finish in the same batch does not replace
// the final one.
func TestWriteRecordings(t *testing.T) {
	ctx := context.Background()
	d := openMigrated(t)
	ids := insertThree(t, d)
	open, closed, gone := ids[0], ids[1], ids[2]
	if err := DeleteRecording(ctx, d, gone); err != nil {
		t.Fatal(err)
	}
	before := d.LastCommit()
	w := &RecordingWrites{
		Insert: []RecordingInsert{
			{Rec: &Recording{StreamName: "cam", FilePath: "/rec/cam/d.mp4", StartTime: 1010, Codec: "h264"}},
			{Rec: &Recording{StreamName: "door", FilePath: "/rec/door/a.mp4", StartTime: 1010, TriggerType: "motion"}},
		},
		Finish: []RecordingFinish{
			{Index: &RecordingIndex{RecordingID: closed, StartUS: 1, PartCount: 9, Parts: []byte{9}}, End: RecordingEnd{EndTime: 1009, SizeBytes: 900, Codec: "h264"}},
			{Index: &RecordingIndex{RecordingID: gone, StartUS: 1, PartCount: 3, Parts: []byte{3}}, End: RecordingEnd{EndTime: 1003}},
		},
		Open: []*RecordingIndex{
			{RecordingID: open, StartUS: 1, PartCount: 4, Parts: []byte{4}},
			{RecordingID: closed, StartUS: 1, PartCount: 8, Parts: []byte{8}}, // taken before its finish
		},
	}
	if err := WriteRecordings(ctx, d, w); err != nil {
		t.Fatal(err)
	}
	if !d.LastCommit().After(before) {
		t.Error("WriteRecordings did not commit a transaction")
	}
	for _, it := range w.Insert {
		if it.Err != nil || it.Rec.ID == 0 {
			t.Fatalf("insert %s: id %d, %v", it.Rec.FilePath, it.Rec.ID, it.Err)
		}
		r, err := GetRecording(ctx, d, it.Rec.ID)
		if err != nil || r.FilePath != it.Rec.FilePath || r.IsComplete || r.StreamName != it.Rec.StreamName {
			t.Errorf("inserted row %d: %+v, %v; want %s incomplete", it.Rec.ID, r, err, it.Rec.FilePath)
		}
	}
	if w.Insert[0].Rec.ID == w.Insert[1].Rec.ID {
		t.Error("two inserts got one id")
	}
	if r, _ := GetRecording(ctx, d, w.Insert[1].Rec.ID); r == nil || r.TriggerType != "motion" {
		t.Errorf("inserted row %+v, want trigger motion", r)
	}
	if w.Finish[0].Err != nil {
		t.Errorf("finish of recording %d: %v", closed, w.Finish[0].Err)
	}
	if r, err := GetRecording(ctx, d, closed); err != nil || !r.IsComplete || r.EndTime != 1009 || r.SizeBytes != 900 {
		t.Errorf("finished row: %+v, %v; want complete, ending at 1009 with 900 bytes", r, err)
	}
	if !errors.Is(w.Finish[1].Err, ErrRecordingNotFound) {
		t.Errorf("finish of a deleted recording: %v, want ErrRecordingNotFound", w.Finish[1].Err)
	}
	if _, err := GetRecordingIndex(ctx, d, gone); !errors.Is(err, ErrRecordingNotFound) {
		t.Errorf("the failed finish left an index: %v", err)
	}
	wantParts(t, d, map[int64]int{open: 4, closed: 9})

	// A batch that cannot commit writes nothing at all.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	fail := &RecordingWrites{Insert: []RecordingInsert{{Rec: &Recording{StreamName: "cam", FilePath: "/rec/cam/e.mp4", StartTime: 1}}},
		Finish: []RecordingFinish{{Index: &RecordingIndex{RecordingID: open, PartCount: 5}, End: RecordingEnd{EndTime: 1}}}}
	if err := WriteRecordings(cctx, d, fail); err == nil {
		t.Fatal("WriteRecordings on a cancelled context succeeded")
	}
	if fail.Insert[0].Rec.ID != 0 {
		t.Errorf("a failed batch's insert kept id %d", fail.Insert[0].Rec.ID)
	}
	rows, err := StreamRecordings(ctx, d, "cam")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.FilePath == "/rec/cam/e.mp4" || (r.ID == open && r.IsComplete) {
			t.Errorf("a failed batch wrote %+v", r)
		}
	}
}
