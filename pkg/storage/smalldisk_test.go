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
	"lightnvr/pkg/media"
	"lightnvr/pkg/media/loadgen"
	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

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
	cfg := config.Default()
	cfg.Storage.Path = dir
	cfg.Storage.MinFreePct = 20
	c, err := New(FromConfig(cfg, d, quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Heartbeat != time.Minute || c.cfg.PassInterval != 5*time.Minute || !c.cfg.AutoDeleteOldest {
		t.Fatalf("not the production settings: heartbeat %v, pass %v, auto_delete_oldest %v",
			c.cfg.Heartbeat, c.cfg.PassInterval, c.cfg.AutoDeleteOldest)
	}
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
	cfg := config.Default()
	cfg.Storage.Path = dir
	cfg.Storage.MinFreePct = 20
	c, err := New(FromConfig(cfg, d, quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(ctx) })
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
	st := c.Status()
	c.Wrote("cam", 1<<20)
	if got := c.Status().EstimatedFree; got != st.Space.Free-1<<20 {
		t.Errorf("estimated free %d after 1 MiB reported, want %d", got, st.Space.Free-1<<20)
	}
	checkConsistent(t, d, dir)
}
