package record

import (
	"context"
	"errors"
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

// Recorders sharing a Syncer: one round syncs every file written since the
// last, saves each open segment's index with every part written so far,
// and a failed sync fails that recorder's next part.
func TestSyncerSyncsEveryRecorderAndSavesIndexes(t *testing.T) {
	units, _ := benchUnits(t)
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	var mu sync.Mutex
	synced := map[string]int{}
	var failPath string
	syncer := NewSyncer(d, func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		synced[f.Name()]++
		if f.Name() == failPath {
			return errors.New("disk gone")
		}
		return fdatasync(f)
	}, nil)
	names := []string{"a", "b", "c"}
	recs := make([]*Recorder, len(names))
	feeds := make([]*feeder, len(names))
	for i, name := range names {
		r, err := New(Config{Stream: name, StorageDir: filepath.Join(dir, "s"), DB: d, SegmentDuration: time.Minute,
			IndexInterval: time.Nanosecond, Syncer: syncer, Sync: func(*os.File) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		recs[i], feeds[i] = r, &feeder{units: units, start: time.Now()}
		feeds[i].write(r, 4*25+1) // four parts: the first synced by the recorder, three handed over
	}
	syncer.Flush()
	ctx := context.Background()
	for _, r := range recs {
		st := r.Status()
		mu.Lock()
		n := synced[st.Path]
		mu.Unlock()
		if n == 0 {
			t.Errorf("%s: %s written and never synced", r.cfg.Stream, st.Path)
		}
		ix, err := db.GetRecordingIndex(ctx, d, st.RecordingID)
		if err != nil {
			t.Fatal(err)
		}
		if want := len(r.seg.parts); ix.PartCount != want {
			t.Errorf("%s: %d parts indexed after a round, want %d", r.cfg.Stream, ix.PartCount, want)
		}
	}

	mu.Lock()
	failPath = recs[1].Status().Path
	mu.Unlock()
	feeds[1].write(recs[1], 25)
	syncer.Flush()
	feeds[1].write(recs[1], 25)
	if st := recs[1].Status(); st.State != StateFailing {
		t.Errorf("after a failed sync the recorder is %s, want failing", st.State)
	}
	if st := recs[0].Status(); st.State != StateRecording {
		t.Errorf("another recorder's failed sync left this one %s", st.State)
	}
}
