package storage

import (
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"lightnvr/pkg/record"
	"lightnvr/pkg/testkit"
)

// TestCapsHoldBetweenPasses records at 2 MB/s a stream with the daemon's
// defaults (a pass every 5 minutes) into a stream with a 10 MiB quota, and
// two streams under a 20 MiB [storage] max_size, writing three times the
// cap in seconds. A sampler sums the files on disk every 10 ms: they never
// exceed the cap by more than three segments a stream (the one open at a
// pass, the one completed before the next, and scheduling slack) plus what
// the streams write while the longest pass runs, which no pass can delete
// sooner: a loaded machine once made one pass take 1.1 s.
func TestCapsHoldBetweenPasses(t *testing.T) {
	t.Run("stream quota", func(t *testing.T) {
		testCapHolds(t, 0, map[string]int{"capped": 10, "other": 0}, "capped", 10<<20)
	})
	t.Run("max_size", func(t *testing.T) {
		testCapHolds(t, 20<<20, map[string]int{"a": 0, "b": 0}, "", 20<<20)
	})
}

// testCapHolds records every stream of quotas (MiB, 0 none) until they
// wrote three times limit, watching the bytes under watched ("" = all).
func testCapHolds(t *testing.T, maxSize int64, quotas map[string]int, watched string, limit int64) {
	dir := plainDir(t)
	d := testkit.OpenDB(t, "")
	for name, mb := range quotas {
		addStream(t, d, name, 0, 0, mb)
	}
	c := started(t, prodController(t, d, dir, func(cfg *Config) {
		cfg.MaxSize = maxSize
		spaceIndifferent(cfg)
	}))

	smp := sample(t)
	var feeders []*feeder
	for name := range quotas {
		rc := recordConfig(d, dir, name, time.Second)
		rc.OnWrite = func(n int64) { c.Wrote(name, n) } // as streams.RecordingOptions.OnWrite in the daemon
		f := newFeeder(t, smp, rc, time.Now().Add(-time.Hour))
		f.rate = 2 << 20
		feeders = append(feeders, f)
	}
	root := filepath.Join(dir, "mp4")
	if watched != "" {
		root = record.StreamDir(dir, watched)
	}
	var peak, largest, longestPass atomic.Int64
	done := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var sum int64
			_ = filepath.WalkDir(root, func(_ string, de fs.DirEntry, err error) error {
				if err == nil && !de.IsDir() {
					if fi, err := de.Info(); err == nil {
						sum += fi.Size()
						if fi.Size() > largest.Load() {
							largest.Store(fi.Size())
						}
					}
				}
				return nil
			})
			if sum > peak.Load() {
				peak.Store(sum)
			}
			if p := c.Status().LastPass; p != nil && int64(p.Duration) > longestPass.Load() {
				longestPass.Store(int64(p.Duration))
			}
		}
	}()
	var wg sync.WaitGroup
	for _, f := range feeders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f.written.Load() < 3*limit/int64(len(feeders)) {
				f.feedLoop()
			}
		}()
	}
	wg.Wait()
	for _, f := range feeders {
		if err := f.rec.Close(); err != nil {
			t.Error(err)
		}
	}
	close(done)
	sampler.Wait()
	pass := time.Duration(longestPass.Load())
	writers := len(feeders) // the streams whose files are under root
	if watched != "" {
		writers = 1
	}
	during := int64(float64(writers) * feeders[0].rate * pass.Seconds())
	bound := limit + 3*int64(len(feeders))*largest.Load() + during
	t.Logf("peak %d bytes under %s, cap %d, largest segment %d, longest pass %s (%d bytes written meanwhile)",
		peak.Load(), root, limit, largest.Load(), pass, during)
	if peak.Load() > bound {
		t.Errorf("%d bytes under %s, over the cap of %d by more than three segments a stream and the longest pass's writes (%d)",
			peak.Load(), root, limit, bound)
	}
}
