package db

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkWriteRecordings is one round of eight streams cutting together:
// each stream's new row, its last segment's completion and an open index,
// in one transaction (the RowWriter's), against the same writes as sixteen
// transactions of their own (InsertRecording and FinishRecording each).
func BenchmarkWriteRecordings(b *testing.B) {
	const streams = 8
	ctx := context.Background()
	d := openMigrated(b)
	parts := make([]byte, 60*12) // a minute's index
	open := func() []int64 {
		ids := make([]int64, streams)
		for i := range ids {
			id, err := InsertRecording(ctx, d, &Recording{StreamName: fmt.Sprint("cam", i), FilePath: fmt.Sprintf("/rec/%d-open.mp4", i), StartTime: 1})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = id
		}
		return ids
	}
	b.Run("grouped", func(b *testing.B) {
		ids := open()
		for n := 0; b.Loop(); n++ {
			w := &RecordingWrites{}
			for i, id := range ids {
				w.Insert = append(w.Insert, RecordingInsert{Rec: &Recording{StreamName: fmt.Sprint("cam", i), FilePath: fmt.Sprintf("/rec/%d-%d.mp4", i, n), StartTime: 2}})
				w.Finish = append(w.Finish, RecordingFinish{Index: &RecordingIndex{RecordingID: id, PartCount: 60, Parts: parts}, End: RecordingEnd{EndTime: 2, SizeBytes: 3e6}})
			}
			if err := WriteRecordings(ctx, d, w); err != nil {
				b.Fatal(err)
			}
			for i := range ids {
				ids[i] = w.Insert[i].Rec.ID
			}
		}
	})
	b.Run("separate", func(b *testing.B) {
		ids := open()
		for n := 0; b.Loop(); n++ {
			for i, id := range ids {
				if err := FinishRecording(ctx, d, &RecordingIndex{RecordingID: id, PartCount: 60, Parts: parts}, RecordingEnd{EndTime: 2, SizeBytes: 3e6}); err != nil {
					b.Fatal(err)
				}
				nid, err := InsertRecording(ctx, d, &Recording{StreamName: fmt.Sprint("cam", i), FilePath: fmt.Sprintf("/rec/%d-%d.mp4", i, n), StartTime: 2})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = nid
			}
		}
	})
}
