package storage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/config"
	"lightnvr/pkg/db"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// TestFillDiskProductionSettings records twelve 4 Mbit/s cameras (6 MB/s,
// an appliance's load) in real time into a 300 MiB filesystem with the
// controller exactly as the daemon builds it: [storage] defaults (1 min
// heartbeat, 5 min pass, min_free_pct 10), recorders wired to Wrote, the
// segment length new streams get. The disk fills within a minute, faster
// than one heartbeat. Free space, read by the test itself, never drops
// below 10% of 300 MiB: 31457280 bytes, written out here rather than taken
// from the controller.
func TestFillDiskProductionSettings(t *testing.T) {
	const (
		sizeMB  = 300
		total   = 314572800 // 300 MiB: what statfs must report for the floor below to be 10%
		floor   = 31457280  // 10% of it
		cameras = 12
	)
	dir := mountTmpfs(t, sizeMB)
	d := testkit.OpenDB(t, "")
	cfg := config.Default()
	cfg.Storage.Path = dir
	c, err := New(FromConfig(cfg, d, quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Heartbeat != time.Minute || c.cfg.PassInterval != 5*time.Minute || c.cfg.MinFreePct != 10 ||
		!c.cfg.AutoDeleteOldest {
		t.Fatalf("not the production settings: heartbeat %v, pass %v, min_free_pct %g, auto_delete_oldest %v",
			c.cfg.Heartbeat, c.cfg.PassInterval, c.cfg.MinFreePct, c.cfg.AutoDeleteOldest)
	}
	sp0, err := statSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sp0.Total != total {
		t.Fatalf("filesystem of %d bytes, want %d", sp0.Total, total)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(ctx) })

	smp, err := loadgen.LoadSample(testkit.Sample(t, testkit.SampleSpec{Size: "640x360", FPS: 25, GOP: 25,
		Bitrate: "4M", Seconds: 4}))
	if err != nil {
		t.Fatal(err)
	}
	segment := time.Duration(db.NewStream("cam", "").SegmentDuration) * time.Second
	wall0 := time.Now()
	feeders := make([]*feeder, cameras)
	for i := range feeders {
		name := fmt.Sprintf("cam%d", i)
		addStream(t, d, name, 0, 0, 0) // unlimited: only the floor evicts
		rc := recordConfig(d, dir, name, segment)
		rc.OnWrite = func(n int64) { c.Wrote(name, n) } // as streams.RecordingOptions.OnWrite in the daemon
		feeders[i] = newFeeder(t, smp, rc, wall0)
		feeders[i].realTime = true
	}

	recs := make([]*record.Recorder, len(feeders))
	for i, f := range feeders {
		recs[i] = f.rec
	}
	sampler := startFillSampler(dir, sp0.Free, recs)

	// Until one and a half disks are written: the disk has filled, and
	// eviction has kept up for as long again.
	target := int64(total * 3 / 2)
	var written atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for i, f := range feeders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Cameras come up a second apart, so their segments do not all
			// close at once.
			time.Sleep(time.Duration(i) * time.Second)
			for written.Load() < target {
				before := f.written.Load()
				f.feedLoop()
				written.Add(f.written.Load() - before)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, f := range feeders {
		if err := f.rec.Close(); err != nil {
			t.Errorf("recorder: %v", err)
		}
	}
	sampler.stop()
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	var kept int
	if err := rawSQL(t, d).QueryRow(`SELECT count(*) FROM recordings`).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d MiB in %v (%.1f MB/s) into %d MiB; lowest free %d bytes, floor %d (%.1f MiB above); %d recordings left",
		written.Load()>>20, elapsed.Round(time.Second), float64(written.Load())/elapsed.Seconds()/1e6, sizeMB,
		sampler.minFree.Load(), floor, float64(int64(sampler.minFree.Load())-floor)/(1<<20), kept)
	sampler.check(t, uint64(floor))
	checkConsistent(t, d, dir)
}
