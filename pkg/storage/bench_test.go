package storage

import (
	"bufio"
	"context"
	"lightnvr/pkg/testkit"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkRetentionPass1M times one full retention pass over a database
// of 1 M recordings of 1 MB (8 streams, 58 days, half past their
// retention, one stream twice over its quota). Every row's file exists (hard
// links to one file, so the disk holds only directory entries). Each
// iteration deletes up to MaxDeletesPerPass recordings, so the table stays
// near 1 M rows. Reports peak RSS and heap during the pass.
func BenchmarkRetentionPass1M(b *testing.B) {
	rows := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("LIGHTNVR_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	dir := mountTmpfs(b, 512)
	d := testkit.OpenDB(b, "")
	ctx := context.Background()
	// Rows are 5 s apart: retention is half the span, cam0's quota half
	// of its bytes.
	days := max(rows*5/86400/2, 1)
	for i := range 8 {
		maxMB := 0
		if i == 0 {
			maxMB = rows / 8 / 2
		}
		addStream(b, d, "cam"+strconv.Itoa(i), days, days, maxMB)
	}
	files := filepath.Join(dir, "mp4", "files")
	if err := os.MkdirAll(files, 0o755); err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(dir, "mp4", "one.mp4")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Duration(rows*5) * time.Second).Unix()
	t0 := time.Now()
	if _, err := rawSQL(b, d).ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO recordings (stream_name, file_path, start_time, end_time, size_bytes, is_complete, trigger_type)
		SELECT 'cam' || (i % 8), ? || '/f' || i || '.mp4', ? + i * 5, ? + i * 5 + 60, 1048576, 1,
			CASE WHEN i % 10 = 0 THEN 'detection' ELSE 'scheduled' END FROM n`, rows, files, start, start); err != nil {
		b.Fatal(err)
	}
	for i := 1; i <= rows; i++ {
		if err := os.Link(src, filepath.Join(files, "f"+strconv.Itoa(i)+".mp4")); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup: %d rows and files in %v", rows, time.Since(t0).Round(time.Millisecond))
	c := newController(b, d, dir, func(cfg *Config) { cfg.DeepInterval = 1000 * time.Hour })
	c.st.LastDeep = time.Now() // the tree walk is the 6-hourly deep pass, not timed here
	runtime.GC()
	resetPeakRSS()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	deleted := 0
	b.ResetTimer()
	b.ReportAllocs()
	for range b.N {
		res, err := c.RunPass(ctx)
		if err != nil {
			b.Fatal(err)
		}
		deleted += res.TotalDeleted()
	}
	b.StopTimer()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(deleted)/float64(b.N), "deleted/op")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peakRSS-MB")
	b.ReportMetric(float64(ms1.HeapSys)/(1<<20), "heapSys-MB")
}

// resetPeakRSS resets VmHWM (Linux: write 5 to clear_refs).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
