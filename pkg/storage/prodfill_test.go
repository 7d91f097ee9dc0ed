package storage

import (
	"context"
	"fmt"
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
	c := prodController(t, d, dir, nil)
	if c.cfg.MinFreePct != 10 {
		t.Fatalf("min_free_pct %g, not the default", c.cfg.MinFreePct)
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

// TestSmallDiskFloorFromFirstMinute records two real 3 Mbit/s RTSP streams
// into an 80 MiB filesystem with min_free_pct = 20 and otherwise the
// daemon's [storage] defaults (1 min heartbeat, 5 min pass): the disk is
// down to its floor in about a minute and a half, before the controller's
// fill rate means anything. A sampler reads statfs every 2 ms; free space
// never drops more than one part (the most a recorder writes between two
// reports) below 20% of the disk.
func TestSmallDiskFloorFromFirstMinute(t *testing.T) {
	const (
		sizeMB = 80
		total  = 80 << 20
		floor  = total / 5 // 20%, written out rather than taken from the controller
	)
	dir := mountTmpfs(t, sizeMB)
	d := testkit.OpenDB(t, "")
	c := prodController(t, d, dir, func(cfg *Config) { cfg.MinFreePct = 20 })
	sp0, err := statSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sp0.Total != total {
		t.Fatalf("filesystem of %d bytes, want %d", sp0.Total, total)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })

	lg := testkit.Loadgen(t, testkit.SampleSpec{Size: "640x360", FPS: 25, GOP: 25, Bitrate: "3M", Seconds: 4},
		loadgen.Config{Streams: 2})
	segment := time.Duration(db.NewStream("cam", "").SegmentDuration) * time.Second
	var largestPart, written atomic.Int64
	onWrite := func(stream string, n int64) {
		for {
			old := largestPart.Load()
			if n <= old || largestPart.CompareAndSwap(old, n) {
				break
			}
		}
		written.Add(n)
		c.Wrote(stream, n) // as streams.RecordingOptions.OnWrite in the daemon
	}
	var wg sync.WaitGroup
	recs := make([]*record.Recorder, 2)
	for i := range recs {
		name := fmt.Sprintf("cam%d", i)
		addStream(t, d, name, 0, 0, 0) // unlimited: only the floor evicts
		rc := recordConfig(d, dir, name, segment)
		rc.OnWrite = func(n int64) { onWrite(name, n) }
		if recs[i], err = record.New(rc); err != nil {
			t.Fatal(err)
		}
		hub := media.NewHub()
		src := media.NewSource(media.SourceConfig{Name: name, URL: lg.URL(i), Hub: hub})
		sub := hub.Subscribe("recorder", 1024)
		wg.Add(2)
		go func() { defer wg.Done(); _ = src.Run(ctx) }()
		go func() { defer wg.Done(); _ = recs[i].Run(ctx, sub) }()
	}
	sampler := startFillSampler(dir, sp0.Free, recs)

	// One and a half disks: it has filled, and eviction has kept up for
	// as long again.
	deadline := time.Now().Add(10 * time.Minute)
	for written.Load() < total*3/2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	sampler.stop()
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d MiB into %d MiB; lowest free %d bytes, floor %d, largest part %d bytes; %d deleted for pressure",
		written.Load()>>20, sizeMB, sampler.minFree.Load(), floor, largestPart.Load(), evictedForPressure(c))
	if written.Load() < total*3/2 {
		t.Fatalf("the streams wrote only %d bytes", written.Load())
	}
	sampler.check(t, uint64(floor-largestPart.Load()))
	checkConsistent(t, d, dir)
}

func evictedForPressure(c *Controller) int {
	if st := c.Status(); st.LastPass != nil {
		return st.LastPass.Deleted["pressure"]
	}
	return 0
}

// TestStartBelowFloorEvictsAtOnce starts the controller, with the daemon's
// defaults, on a 40 MiB disk already filled below its 20% floor: by the
// time Start returns (and the daemon would start its recorders) the oldest
// recordings are gone and free space is back above the floor, with no
// heartbeat or pass having been waited for. Until the first reading of the
// disk after that, the estimate of free space follows what recorders
// report.
func TestStartBelowFloorEvictsAtOnce(t *testing.T) {
	const total, floor = 40 << 20, 8 << 20
	dir := mountTmpfs(t, 40)
	d := testkit.OpenDB(t, "")
	addStream(t, d, "cam", 0, 0, 0)
	start := time.Now().Add(-time.Hour)
	var ids []int64
	for i := 0; ; i++ {
		sp, err := statSpace(dir)
		if err != nil {
			t.Fatal(err)
		}
		if sp.Free < floor/2 {
			break
		}
		ids = append(ids, addRec(t, d, dir, "cam", start.Add(time.Duration(i)*time.Minute), 2<<20, "scheduled"))
	}
	c := started(t, prodController(t, d, dir, func(cfg *Config) { cfg.MinFreePct = 20 }))
	sp, err := statSpace(dir)
	if err != nil {
		t.Fatal(err)
	}
	if sp.Total != total || sp.Free < floor {
		t.Fatalf("after Start: %d bytes free of %d, floor %d", sp.Free, sp.Total, floor)
	}
	if rowExists(t, d, ids[0]) || !rowExists(t, d, ids[len(ids)-1]) {
		t.Error("not the oldest recording evicted first")
	}
	// A write reported lowers the estimate until the next reading of the
	// disk, which starts the count afresh. The controller's loop may take
	// one at any moment after Start; a pair of snapshots with a reading
	// between them (a new CheckedAt) says nothing, and is taken again.
	for try := 1; ; try++ {
		st := c.Status()
		c.Wrote("cam", 1<<20)
		after := c.Status()
		if !after.CheckedAt.Equal(st.CheckedAt) {
			if try == 5 {
				t.Fatalf("the disk was read between the snapshots of all %d tries", try)
			}
			continue
		}
		if got, want := after.EstimatedFree, st.EstimatedFree-1<<20; got != want {
			t.Errorf("estimated free %d after 1 MiB reported, want %d", got, want)
		}
		break
	}
	checkConsistent(t, d, dir)
}
