package record

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// Recorders sharing a RowWriter: each makes every part durable itself as it
// writes it, and one round saves each open segment's index with every part
// written so far.
func TestRowWriterSavesEveryRecordersIndexes(t *testing.T) {
	units, _ := benchUnits(t)
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	var mu sync.Mutex
	synced := map[string]int{}
	syncer := NewRowWriter(d, nil)
	names := []string{"a", "b", "c"}
	recs := make([]*Recorder, len(names))
	for i, name := range names {
		r, err := New(Config{Stream: name, StorageDir: filepath.Join(dir, "s"), DB: d, SegmentDuration: time.Minute,
			IndexInterval: time.Nanosecond, RowWriter: syncer, Sync: func(f *os.File) error {
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

// TestRowWriterSharesACut: recorders started together cut their segments
// together. While another connection holds the database's write lock
// past BusyTimeout, as a long write of the API or of retention does, the
// new segments' rows wait in the RowWriter instead of failing with
// "database is locked", and are then written together in one round.
// Nothing is lost: every stream's recordings hold all the media written.
func TestRowWriterSharesACut(t *testing.T) {
	testkit.Need(t, "ffprobe")
	units := stampedUnits(t)
	dir := t.TempDir()
	d := testkit.OpenDB(t, filepath.Join(dir, "nvr.db"))
	rows := NewRowWriter(d, nil)
	var mu sync.Mutex
	var inserted []int // inserts in each committed round
	var mixed []string // rounds that carried new rows with anything else
	rows.onRound = func(w *db.RecordingWrites, err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(w.Insert) > 0 && len(w.Finish)+len(w.Open) > 0 {
			mixed = append(mixed, fmt.Sprintf("%d new, %d completed, %d indexes", len(w.Insert), len(w.Finish), len(w.Open)))
		}
		if err == nil {
			inserted = append(inserted, len(w.Insert))
		}
	}

	const n = 8
	recs := make([]*Recorder, n)
	for i := range recs {
		r, err := New(Config{Stream: fmt.Sprintf("cam%d", i), StorageDir: filepath.Join(dir, fmt.Sprint(i)), DB: d,
			SegmentDuration: 2 * time.Second, RowWriter: rows})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		recs[i] = r
		for j := range 50 { // up to the keyframe at 2 s: the cut
			r.Write(&units[j])
		}
	}
	rows.Flush()
	mu.Lock()
	inserted = nil
	mu.Unlock()

	ctx := context.Background()
	lock, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	defer func() { _ = lock.Rollback() }()
	var wg sync.WaitGroup
	for _, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 50; j < 80; j++ { // the new segment's first part, and with it its row
				r.Write(&units[j])
			}
		}()
	}
	// A caller giving up while the lock is held gets an error and no row
	// behind its back: dropped from the queue, or failed with its round.
	probeCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, probeErr := rows.insert(probeCtx, &db.Recording{StreamName: "probe", FilePath: "/probe.mp4", StartTime: 1})
	cancel()
	if !errors.Is(probeErr, context.DeadlineExceeded) && !db.IsBusy(probeErr) {
		t.Errorf("insert given up under the lock: %v, want its deadline or database is locked", probeErr)
	}
	time.Sleep(time.Until(locked.Add(db.BusyTimeout + time.Second)))
	if err := lock.Commit(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("recorders still wait for their new segments' rows 30 s after the lock was released")
	}

	for _, r := range recs {
		for j := 80; j < len(units); j++ {
			r.Write(&units[j])
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if st := r.Status(); st.Segments != 5 || st.Dropped != 0 {
			t.Errorf("%s: %d segments, %d dropped; want 5, 0", r.cfg.Stream, st.Segments, st.Dropped)
		}
	}
	mu.Lock()
	if !slices.Contains(inserted, n) {
		t.Errorf("inserts per committed round %v: the %d new segments at the cut were not written together", inserted, n)
	}
	if len(mixed) > 0 {
		t.Errorf("rounds carried new rows with other writes, which they then wait for: %v", mixed)
	}
	mu.Unlock()
	if probe, err := db.StreamRecordings(ctx, d, "probe"); err != nil || len(probe) != 0 {
		t.Errorf("given-up insert: rows %v, %v; want none", probe, err)
	}
	want := units[len(units)-1].Time(units[len(units)-1].DTS-units[0].DTS) + 40*time.Millisecond
	for i, r := range recs {
		segs := checkRecordings(t, d, filepath.Join(dir, fmt.Sprint(i)), r.cfg.Stream)
		var total time.Duration
		for _, s := range segs {
			total += time.Duration(s.ix.DurationUS) * time.Microsecond
		}
		if len(segs) != 5 || (total-want).Abs() > 10*time.Millisecond {
			t.Errorf("%s: %d recordings holding %v, want 5 holding the %v written", r.cfg.Stream, len(segs), total, want)
		}
	}
}
