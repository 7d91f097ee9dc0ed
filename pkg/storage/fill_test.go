package storage

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/db"
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

var sampleSpec = testkit.SampleSpec{Size: "640x360", FPS: 25, GOP: 25, Bitrate: "8M", Seconds: 4}

func sample(t testing.TB) *loadgen.Sample {
	t.Helper()
	smp, err := loadgen.LoadSample(testkit.Sample(t, sampleSpec))
	if err != nil {
		t.Fatal(err)
	}
	return smp
}

func recordConfig(d *db.DB, dir, stream string, seg time.Duration) record.Config {
	return record.Config{Stream: stream, StorageDir: dir, DB: d, SegmentDuration: seg, Logger: quietLogger()}
}

// TestFillDiskKeepsFloor records into a 200 MB filesystem for three times
// its size: two streams replayed into real recorders as fast as they
// write, plus a real-time loadgen camera through RTSP. Free space never
// drops below the floor, no recorder ever fails, and the protected
// recordings all survive.
func TestFillDiskKeepsFloor(t *testing.T) {
	const sizeMB = 200
	dir := mountTmpfs(t, sizeMB)
	d := testkit.OpenDB(t, "")
	smp := sample(t)
	for _, s := range []string{"fast0", "fast1", "live"} {
		addStream(t, d, s, 0, 0, 0) // unlimited: only the floor evicts
	}
	c := newController(t, d, dir, func(cfg *Config) {
		cfg.Heartbeat = 20 * time.Millisecond
		cfg.PassInterval = 500 * time.Millisecond
		cfg.BatchSize = 20
	})
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(ctx) })
	sp0, err := statSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	floor := c.floorBytes(sp0)

	// The real-time camera: loadgen → RTSP → media.Source → hub → recorder.
	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "640x360", FPS: 25, GOP: 25, Bitrate: "1M", Seconds: 4},
		loadgen.Config{Streams: 1})
	hub := media.NewHub()
	src := media.NewSource(media.SourceConfig{Name: "live", URL: lg.URL(0), Hub: hub})
	live, err := record.New(recordConfig(d, dir, "live", 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	liveCtx, stopLive := context.WithCancel(ctx)
	var liveWG sync.WaitGroup
	sub := hub.Subscribe("recorder", 1024)
	liveWG.Add(2)
	go func() { defer liveWG.Done(); _ = src.Run(liveCtx) }()
	go func() { defer liveWG.Done(); _ = live.Run(liveCtx, sub) }()
	t.Cleanup(func() { stopLive(); liveWG.Wait() })

	wall0 := time.Now().Add(-time.Hour)
	feeders := []*feeder{
		newFeeder(t, smp, recordConfig(d, dir, "fast0", 4*time.Second), wall0),
		newFeeder(t, smp, recordConfig(d, dir, "fast1", 4*time.Second), wall0),
	}
	// 25 MB/s each: far more than the cameras of an appliance (50 MB/s is
	// a hundred 4 Mbit/s streams), so the floor is tested with a margin.
	for _, f := range feeders {
		f.rate = 25 << 20
		if raceEnabled {
			// Everything, the controller's reaction included, runs several
			// times slower under the race detector.
			f.rate = 8 << 20
		}
	}
	recorders := []*record.Recorder{feeders[0].rec, feeders[1].rec, live}

	sampler := startFillSampler(dir, sp0.Free, recorders)

	target := int64(3 * sizeMB << 20)
	var total atomic.Int64
	var protected []int64
	var protMu sync.Mutex
	var wg sync.WaitGroup
	for i, f := range feeders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for total.Load() < target || live.Status().Segments < 3 {
				before := f.written.Load()
				f.feedLoop()
				total.Add(f.written.Load() - before)
				protMu.Lock()
				if i == 0 && protected == nil {
					// Protect fast0's first three segments once they are
					// complete: the oldest, so first in line for eviction.
					var ids []int64
					rows, err := rawSQL(t, d).Query(`SELECT id FROM recordings WHERE stream_name = 'fast0' AND is_complete = 1
						ORDER BY start_time LIMIT 3`)
					if err == nil {
						for rows.Next() {
							var id int64
							_ = rows.Scan(&id)
							ids = append(ids, id)
						}
						_ = rows.Close()
					}
					if len(ids) == 3 {
						if _, err := c.Protect(ctx, ids, true); err == nil {
							protected = ids
						}
					}
				}
				protMu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, f := range feeders {
		if err := f.rec.Close(); err != nil {
			t.Errorf("recorder: %v", err)
		}
	}
	stopLive()
	liveWG.Wait()
	sampler.stop()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	t.Logf("wrote %d MB into %d MB; lowest free %.1f MB (floor %.1f MB); live segments %d",
		total.Load()>>20, sizeMB, float64(sampler.minFree.Load())/(1<<20), float64(floor)/(1<<20), live.Status().Segments)
	if total.Load() < target {
		t.Fatalf("wrote only %d bytes", total.Load())
	}
	sampler.check(t, floor)
	for _, f := range feeders {
		if st := f.rec.Status(); st.Segments < 20 {
			t.Errorf("fast recorder completed only %d segments", st.Segments)
		}
	}
	if st := live.Status(); st.Segments < 3 {
		t.Errorf("live recorder completed %d segments", st.Segments)
	}
	if len(protected) != 3 {
		t.Fatal("recordings were never protected")
	}
	for _, id := range protected {
		r, err := db.GetRecording(ctx, d, id)
		if err != nil {
			t.Errorf("protected recording %d lost: %v", id, err)
			continue
		}
		if _, err := os.Stat(r.FilePath); err != nil {
			t.Errorf("protected recording %d lost its file: %v", id, err)
		}
	}
	if st := c.Status(); st.LastPass == nil {
		t.Error("no pass ran")
	}
	var evicted int
	if err := rawSQL(t, d).QueryRow(`SELECT COALESCE(sum(deleted_count), 0) FROM storage_daily_stats`).Scan(&evicted); err != nil || evicted == 0 {
		t.Errorf("no eviction counted (%d, %v)", evicted, err)
	}
	checkConsistent(t, d, dir)
}
