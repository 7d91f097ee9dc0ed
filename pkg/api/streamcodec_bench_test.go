package api

import (
	"encoding/json"
	"testing"

	"lightnvr/pkg/db"
	"lightnvr/pkg/streams"
)

// BenchmarkStreamObject measures one stream object of GET /api/streams as
// the field table builds it, for a writer and for a viewer (redacted).
func BenchmarkStreamObject(b *testing.B) {
	row := db.NewStream("front", "rtsp://admin:secret@10.0.0.2:554/live")
	row.SubStreamURL = "rtsp://admin:secret@10.0.0.2:554/sub"
	st := streams.Status{Name: "front", State: streams.StateActive}
	for _, viewer := range []bool{false, true} {
		name := "writer"
		if viewer {
			name = "viewer"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(streamObject(row, viewer, st, true)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
