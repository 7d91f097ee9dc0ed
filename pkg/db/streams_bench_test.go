package db

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkListStreams measures reading every stream (64 rows, the
// configuration's largest max_streams) through the field table: the query
// behind GET /api/streams and the stream manager's start.
func BenchmarkListStreams(b *testing.B) {
	ctx := context.Background()
	d := openMigrated(b)
	for i := range 64 {
		if err := InsertStream(ctx, d, NewStream(fmt.Sprintf("cam%02d", i), fmt.Sprintf("rtsp://10.0.0.%d/live", i+1))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		rows, err := ListStreams(ctx, d)
		if err != nil || len(rows) != 64 {
			b.Fatalf("%d rows, %v", len(rows), err)
		}
	}
}
