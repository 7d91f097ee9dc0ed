package record

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/testkit"
)

// feeder writes a loop of units into a recorder, as ingest would.
type feeder struct {
	units []media.Unit
	start time.Time
	i     int
}

func (f *feeder) write(r *Recorder, n int) {
	loop := f.units[len(f.units)-1].DTS + 3600
	for range n {
		u := new(media.Unit)
		*u = f.units[f.i%len(f.units)]
		off := int64(f.i/len(f.units)) * loop
		u.DTS += off
		u.PTS += off
		u.Seq = uint64(f.i + 1)
		u.Wall = f.start.Add(u.Time(u.DTS))
		r.Write(u)
		f.i++
	}
}

// Recorders sharing a IndexWriter: each makes every part durable itself as it
// writes it, and one round saves each open segment's index with every part
// written so far.
func TestIndexWriterSavesEveryRecordersIndexes(t *testing.T) {
	units, _ := benchUnits(t)
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	var mu sync.Mutex
	synced := map[string]int{}
	syncer := NewIndexWriter(d, nil)
	names := []string{"a", "b", "c"}
	recs := make([]*Recorder, len(names))
	for i, name := range names {
		r, err := New(Config{Stream: name, StorageDir: filepath.Join(dir, "s"), DB: d, SegmentDuration: time.Minute,
			IndexInterval: time.Nanosecond, IndexWriter: syncer, Sync: func(f *os.File) error {
				mu.Lock()
				defer mu.Unlock()
				synced[f.Name()]++
				return fdatasync(f)
			}})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		recs[i] = r
		(&feeder{units: units, start: time.Now()}).write(r, 4*25+1) // four parts: the first indexed by the recorder, three handed over
	}
	syncer.Flush()
	ctx := context.Background()
	for _, r := range recs {
		st := r.Status()
		mu.Lock()
		n := synced[st.Path]
		mu.Unlock()
		if want := len(r.seg.parts); n != want {
			t.Errorf("%s: %d of %d parts synced as they were written", r.cfg.Stream, n, want)
		}
		ix, err := db.GetRecordingIndex(ctx, d, st.RecordingID)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(r.seg.parts); ix.PartCount != want {
			t.Errorf("%s: %d parts indexed after a round, want %d", r.cfg.Stream, ix.PartCount, want)
		}
	}
}
