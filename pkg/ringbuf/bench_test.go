package ringbuf_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"lightnvr/pkg/media"
	"lightnvr/pkg/ringbuf"
)

// The benchmark stream: 1080p at 4 Mbit/s, 25 fps, a keyframe each second.
const (
	benchFPS  = 25
	benchUnit = 4_000_000 / 8 / benchFPS // bytes
)

// reportStreamMinute turns the time per stream unit into CPU seconds per
// stream-minute.
func reportStreamMinute(b *testing.B, unitsPerOp int) {
	perUnit := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(unitsPerOp)
	b.ReportMetric(perUnit*benchFPS*60/1e9, "cpu-s/stream-min")
}

// BenchmarkWrite: 4 Mbit/s at 25 fps (20 kB a unit, a keyframe each second)
// into a 10 s ring, as fast as it goes.
func BenchmarkWrite(b *testing.B) {
	r := open(b, 10*time.Second, 32<<20)
	us := make([]*media.Unit, 250)
	for i := range us {
		us[i] = unit(i, benchFPS, benchUnit)
	}
	b.SetBytes(benchUnit)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		writeAt(r, us[i%len(us)], i)
	}
	b.StopTimer()
	reportStreamMinute(b, 1)
}

// writeAt writes u as unit i of the stream: its time, number and key flag.
func writeAt(r *ringbuf.Ring, u *media.Unit, i int) {
	u.Key = i%benchFPS == 0
	u.Wall = t0.Add(time.Duration(i) * time.Second / benchFPS)
	u.Seq = uint64(i)
	r.Write(u)
}

// BenchmarkSixteenStreams is the memory of 16 detection-mode streams at
// 1080p 4 Mbit/s with a 10 s pre-event buffer, their rings sized as the
// pipelines size them (32 MiB per stream, 128 MiB in total): one op is one
// frame time, a unit into every ring. After at least a minute of stream
// time it reports the process's resident memory, the resident pages of the
// ring mappings (page cache, reclaimable) and the Go heap. Run with
// -benchtime=1500x (one minute) or more.
func BenchmarkSixteenStreams(b *testing.B) {
	const streams, perStream, total = 16, 32 << 20, 128 << 20
	budget := ringbuf.NewBudget(total)
	dir := b.TempDir()
	rings := make([]*ringbuf.Ring, streams)
	for i := range rings {
		r, err := ringbuf.Open(ringbuf.Config{Path: filepath.Join(dir, fmt.Sprintf("cam%d.ring", i)),
			Window: 10 * time.Second, MaxBytes: perStream, Budget: budget})
		if err != nil {
			b.Fatal(err)
		}
		rings[i] = r
		b.Cleanup(func() { _ = r.Close() })
	}
	us := make([]*media.Unit, 2*benchFPS)
	for i := range us {
		us[i] = unit(i, benchFPS, benchUnit)
	}
	b.ResetTimer()
	for i := range max(b.N, 60*benchFPS) {
		if i == b.N {
			b.StopTimer() // the rest only fills the rings for the figures
		}
		for _, r := range rings {
			writeAt(r, us[i%len(us)], i)
		}
	}
	b.StopTimer()
	reportStreamMinute(b, streams)
	var limit, span time.Duration
	short := 0
	var limitBytes int
	for _, r := range rings {
		st := r.Stats()
		limitBytes += st.Limit
		span += st.Span
		if st.Span < 10*time.Second {
			short++
		}
	}
	limit = span / streams
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status := procFields(b, "/proc/self/status", "VmRSS", "RssAnon", "RssFile", "RssShmem")
	b.ReportMetric(mib(status["VmRSS"]), "rss-MiB")
	b.ReportMetric(mib(status["RssAnon"]), "rss-anon-MiB")
	b.ReportMetric(mib(status["RssFile"]+status["RssShmem"]), "rss-file-MiB")
	b.ReportMetric(mib(ringResident(b)), "ring-resident-MiB")
	b.ReportMetric(float64(limitBytes)/(1<<20), "ring-areas-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(limit.Seconds(), "mean-buffered-s")
	b.ReportMetric(float64(short), "streams-under-10s")
}

func mib(kb int64) float64 { return float64(kb) / 1024 }

// procFields reads the "Name: N kB" lines of a /proc file.
func procFields(b *testing.B, path string, names ...string) map[string]int64 {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if n == name {
				out[n], _ = strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			}
		}
	}
	return out
}

// ringResident is the resident kB of the mappings of ring files, from
// /proc/self/smaps.
func ringResident(b *testing.B) int64 {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var kb int64
	inRing := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			inRing = strings.HasSuffix(fields[len(fields)-1], ".ring")
		case inRing && fields[0] == "Rss:":
			n, _ := strconv.ParseInt(fields[1], 10, 64)
			kb += n
		}
	}
	return kb
}
